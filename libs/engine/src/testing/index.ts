/** Pipeline unit tests: a pipeline's mappings run over rows in memory and compared with expectations. */
export type { PropertyDifference, TestFailure } from "./Compare.ts"
export { formatTestReport } from "./Report.ts"
export type { TestCaseResult, TestReport } from "./Report.ts"
export { runPipelineTests, testFileFor } from "./RunTests.ts"
export type { PipelineTestOptions } from "./RunTests.ts"
export { simulate } from "./Simulate.ts"
export type { RowProblem, SimulatedEmbedding, SimulatedNode, SimulatedRejection, SimulatedRelationship, Simulation } from "./Simulate.ts"
export { TestFileSpec } from "./TestFile.ts"
