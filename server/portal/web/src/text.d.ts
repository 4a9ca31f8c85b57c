// Files imported as text (import x from "f.css" with { type: "text" }).
declare module "*.css" {
  const text: string;
  export default text;
}
