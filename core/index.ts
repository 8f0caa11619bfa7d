// The domain core's public API. Pure: nothing here (or below) imports an AWS SDK.
export * from './config.ts';
export * from './errors.ts';
export type * from './pool.ts';
export * from './workflow-state.ts';
export * from './tables.ts';
export * from './metrics.ts';
export * from './environment.ts';
export * from './eligibility.ts';
export * from './selection.ts';
export * from './decisions.ts';
export * from './load-balancing.ts';
