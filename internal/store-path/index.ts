export * from "./content-address.ts";
export * from "./make.ts";
export * from "./store-path.ts";
export * from "./self-reference.ts";
export * from "./reference-scanner.ts";
