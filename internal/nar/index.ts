export * from "./dump.ts";
export * from "./hash-path.ts";
export * from "./listing.ts";
export * from "./reader.ts";
export * from "./restore.ts";
export * from "./tokens.ts";
