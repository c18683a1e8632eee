import { describeCliBinary } from '@fleetkey/cli/testing';

describeCliBinary('fleet-controller', new URL('../bin/fleet-controller.mjs', import.meta.url), new URL('../package.json', import.meta.url));
