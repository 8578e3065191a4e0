/**
 * Calling libc through bun:ffi. Symbols are bound lazily, per group, on first
 * use: binding compiles a trampoline per symbol, which would otherwise cost
 * every command tens of milliseconds at start-up. Calls go through the
 * wrapper-free `.native` functions (see `native`).
 */
import { type FFIFunction, FFIType, type Library, dlopen, read } from "bun:ffi";
import { EINTR, ErrnoError } from "./errno.ts";

/**
 * bun:ffi wraps each symbol in a JavaScript function that allocates on every
 * call; `.native` is the same call without the wrapper (typed arrays are still
 * passed as pointers). In loops over many files the difference is most of the
 * garbage produced.
 */
function native<F>(fn: F): F {
  return (fn as F & { native?: F }).native ?? fn;
}

/** A group of libc symbols, bound the first time the returned function is called. */
export function libcGroup<S extends Record<string, FFIFunction>>(spec: S): () => Library<S>["symbols"] {
  let bound: Library<S>["symbols"] | undefined;
  return () => {
    if (bound) return bound;
    const symbols = dlopen("libc.so.6", spec).symbols;
    const out = {} as Record<string, unknown>;
    for (const [name, fn] of Object.entries(symbols)) out[name] = native(fn);
    bound = out as Library<S>["symbols"];
    // Resolve errno's address now: doing it after a failed call would run
    // dlopen in between, which overwrites the errno being read.
    locateErrno();
    return bound;
  };
}

let errnoPointer: number | undefined;

function locateErrno(): number {
  errnoPointer ??= Number(dlopen("libc.so.6", { __errno_location: { args: [], returns: FFIType.ptr } }).symbols.__errno_location());
  return errnoPointer;
}

export function errno(): number {
  return read.i32(locateErrno() as never, 0);
}

/**
 * A call's result, or ErrnoError when it failed. `undefined` means "interrupted,
 * call again". Written without closures: these run once per file in hot loops.
 */
export function check(call: string, result: number | bigint): number | undefined {
  const n = Number(result);
  if (n >= 0) return n;
  const e = errno();
  if (e === EINTR) return undefined;
  throw new ErrnoError(call, e);
}

/**
 * A C string argument: NUL-terminated bytes (see cPath), or a raw pointer
 * to such bytes (see DirectoryListing.namePointer).
 */
export type CString = Uint8Array | number;

/** A NUL-terminated copy of a path for C. */
export function cPath(path: string | Uint8Array): Uint8Array {
  const bytes = typeof path === "string" ? Buffer.from(path) : path;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes, 0);
  return out;
}
