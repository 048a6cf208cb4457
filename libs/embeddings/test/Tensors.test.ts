import { describe, expect, it } from "@effect/vitest"
import { buildFeeds } from "../src/Tensors.ts"

const rows = [{ ids: [101, 7, 102], typeIds: [0, 1, 1] }, { ids: [101, 102], typeIds: [] }]

describe("buildFeeds", () => {
  it("pads rows to the longest with the pad id, mask 0 and type 0, as int64", () => {
    const io = { inputs: [{ name: "input_ids", type: "int64" }, { name: "attention_mask", type: "int64" }, { name: "token_type_ids", type: "int64" }] as const, output: "x" }
    const { feeds, length } = buildFeeds(io, rows, 1)
    expect(length).toBe(3)
    expect(feeds["input_ids"]!.type).toBe("int64")
    expect(feeds["input_ids"]!.dims).toEqual([2, 3])
    expect(Array.from(feeds["input_ids"]!.data as BigInt64Array)).toEqual([101n, 7n, 102n, 101n, 102n, 1n])
    expect(Array.from(feeds["attention_mask"]!.data as BigInt64Array)).toEqual([1n, 1n, 1n, 1n, 1n, 0n])
    expect(Array.from(feeds["token_type_ids"]!.data as BigInt64Array)).toEqual([0n, 1n, 1n, 0n, 0n, 0n])
  })

  it("builds the same values as int32 for a model that declares int32 inputs, and only the inputs it declares", () => {
    const io = { inputs: [{ name: "input_ids", type: "int32" }, { name: "attention_mask", type: "int32" }] as const, output: "x" }
    const { feeds } = buildFeeds(io, rows, 0)
    expect(Object.keys(feeds)).toEqual(["input_ids", "attention_mask"])
    expect(feeds["input_ids"]!.type).toBe("int32")
    expect(Array.from(feeds["input_ids"]!.data as Int32Array)).toEqual([101, 7, 102, 101, 102, 0])
    expect(Array.from(feeds["attention_mask"]!.data as Int32Array)).toEqual([1, 1, 1, 1, 1, 0])
  })

  it("gives an empty row one padded position", () => {
    const io = { inputs: [{ name: "input_ids", type: "int64" }] as const, output: "x" }
    const { feeds, length } = buildFeeds(io, [{ ids: [], typeIds: [] }], 5)
    expect(length).toBe(1)
    expect(Array.from(feeds["input_ids"]!.data as BigInt64Array)).toEqual([5n])
  })
})
