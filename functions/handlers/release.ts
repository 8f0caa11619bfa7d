import { notImplemented } from '../not-implemented.ts';

export const handler = notImplemented('release');
