export * from "./aterm-parse.ts";
export * from "./aterm-write.ts";
export * from "./hash-modulo.ts";
export * from "./json.ts";
export * from "./output-kind.ts";
export * from "./output-paths.ts";
export * from "./types.ts";
export * from "./validate.ts";
