export * from "./Search.ts"
export * from "./SearchPlan.ts"
export { parseFilter, parseVia } from "./Via.ts"
