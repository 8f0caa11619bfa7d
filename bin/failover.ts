#!/usr/bin/env tsx
// `npx failover …`: the operator CLI (cli/main.ts).
import { main } from '../cli/main.ts';

process.exitCode = await main(process.argv);
