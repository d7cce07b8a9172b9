import type { z } from 'zod';

/**
 * Compile-time agreement between a zod schema and the hand-written type its data is read as.
 *
 * The engine's policy types are written by hand (src/engine/ imports nothing, zod included), the
 * schemas that parse the files live in the loaders. `Assert<SchemaAgrees<typeof schema, T>>` stops
 * the build when a field is added, dropped, made optional or retyped on one side only, so the
 * parsed value is a `T` without a cast.
 */
export type SchemaAgrees<S extends z.ZodType, T> = Same<Held<z.output<S>>, Held<T>>;

/** Compiles only when its argument is `true`. */
export type Assert<T extends true> = T;

/**
 * Identical types, not merely assignable both ways (which would let an optional field present on
 * one side only pass).
 */
type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;

/** A type as the readers hold it: the schema's arrays and fields are mutable, the engine's readonly. */
type Held<T> = T extends readonly (infer E)[] ? readonly Held<E>[] : T extends object ? { readonly [K in keyof T]: Held<T[K]> } : T;
