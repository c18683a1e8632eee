import { describeCliBinary } from '@fleetkey/cli/testing';

describeCliBinary('edge-agent', new URL('../bin/edge-agent.mjs', import.meta.url), new URL('../package.json', import.meta.url));
