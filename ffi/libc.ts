/**
 * libc through bun:ffi, by concern: files, locks, sockets, namespaces. Each
 * group binds its symbols on first use. Nothing here knows about Nix.
 */
export * from "./call.ts";
export * from "./files.ts";
export * from "./locks.ts";
export * from "./namespaces.ts";
export * from "./sockets.ts";
export * from "./process.ts";
