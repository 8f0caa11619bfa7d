import { readFileSync } from 'node:fs';
import { ConfigError, parseConfigText, type Config } from '../core/config.ts';

/** Reads and validates the config file; a missing file is a ConfigError like any other problem. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`(file): cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; pass another path with -c configFile=<path>`]);
  }
  return parseConfigText(text, file);
}
