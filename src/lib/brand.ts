declare const brandTag: unique symbol

/**
 * A nominal type: a `T` that only values passed through a checked constructor carry, so a
 * `JobId` cannot be handed where a `NodeId` is expected even though both are strings.
 */
export type Brand<T, B extends string> = T & { readonly [brandTag]: B }
