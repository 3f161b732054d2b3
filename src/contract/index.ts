/**
 * The wire contract in one place: TypeBox schemas (and their `Static<>` types) for every body the
 * routes, the client, the dashboard and the WebSocket handler share, and the closed error catalogue.
 * Depends on nothing but TypeBox; the client and dashboard import its types only (`import type`),
 * so no schema code reaches a browser bundle.
 */
export * from './errors.js';
export * from './filter.js';
export * from './json.js';
export * from './permissions.js';
export * from './query.js';
export * from './records.js';
