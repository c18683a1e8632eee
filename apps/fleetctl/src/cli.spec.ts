import { describeCliBinary } from '@fleetkey/cli/testing';

describeCliBinary('fleetctl', new URL('../bin/fleetctl.mjs', import.meta.url), new URL('../package.json', import.meta.url));
