/** `edge-agent status`: the keystore's view of the robot, as a table or the JSON. */
export * from './status.js';
