/** C sources imported as text (`with { type: "text" }`), embedded in the executable. */
declare module "*.c" {
  const source: string;
  export default source;
}
