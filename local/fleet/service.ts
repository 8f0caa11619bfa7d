// The shape every service module shares: command name → handler.

/** A command's output without the SDK's `$metadata` (the fleet adds it). */
export type Output<T> = Omit<T, '$metadata'>;

/** Takes the command's input (already copied), returns its output; throws errors as AWS would. */
export type Handler = (input: never) => object;

export type Handlers = Record<string, Handler>;
