export { FleetEvents, type FleetEventMap, type FleetPublisher } from './fleet-events.js';
