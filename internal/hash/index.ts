export * from "./algorithm.ts";
export * from "./base16.ts";
export * from "./base32.ts";
export * from "./base64.ts";
export * from "./fold.ts";
export * from "./hash.ts";
export * from "./hasher.ts";
