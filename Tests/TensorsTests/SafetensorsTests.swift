import Foundation
import Testing
@testable import Tensors

@Suite("Safetensors reader and writer")
struct SafetensorsTests {
    struct Expected: Decodable { let shape: [Int]; let values: [Float] }

    func expectedValues() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: fixtureURL("mixed.expected.json")))
    }

    @Test("reads F32, F16 and BF16 written by the reference library, bit for bit")
    func readsReferenceFile() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("mixed.safetensors"))
        #expect(file.metadata["made_by"] == "safetensors_fixture.py")
        #expect(file.entries["f16"]?.dtype == .f16)
        #expect(file.entries["bf16"]?.dtype == .bf16)
        for (name, expected) in try expectedValues() {
            let t = try file.tensor(name)
            #expect(t.shape == expected.shape, "\(name)")
            #expect(t.scalars.map(\.bitPattern) == expected.values.map(\.bitPattern), "\(name)")
        }
        #expect(try file.tensor("scalar").scalars == [4.25])
    }

    @Test("integer tensors validate but do not load as fp32; missing names are reported")
    func unsupportedAndMissing() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("mixed.safetensors"))
        #expect(file.entries["ids"]?.dtype == .i64)
        let unsupported = #expect(throws: SafetensorsError.self) { try file.tensor("ids") }
        #expect(unsupported?.kind == .unsupportedDType)
        let missing = #expect(throws: SafetensorsError.self) { try file.tensor("nope") }
        #expect(missing?.kind == .missingTensor)
        #expect(missing?.description.contains("nope") == true)
    }

    @Test("fp16 and bf16 rounding matches PyTorch's on the same inputs")
    func halfRounding() throws {
        let file = try SafetensorsFile(contentsOf: fixtureURL("mixed.safetensors"))
        let expected = try expectedValues()
        let base = try file.tensor("f32").scalars
        let special: [Float] = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08, 1e-3, 1.0 / 3.0, 123.456]
        for (inputs, f16, bf16) in [(base, "f16", "bf16"), (special, "special_f16", "special_bf16")] {
            let viaHalf = inputs.map { HalfPrecision.float(fromHalf: HalfPrecision.half(fromFloat: $0)) }
            let viaBFloat = inputs.map { Float(bitPattern: UInt32(HalfPrecision.bfloat(fromFloat: $0)) << 16) }
            #expect(viaHalf.map(\.bitPattern) == expected[f16]!.values.map(\.bitPattern))
            #expect(viaBFloat.map(\.bitPattern) == expected[bf16]!.values.map(\.bitPattern))
        }
        #expect(HalfPrecision.half(fromFloat: 70000) == 0x7c00)   // overflow → +inf
        #expect(HalfPrecision.float(fromHalf: 0xfc00) == -.infinity)
        #expect(HalfPrecision.float(fromHalf: 0x7e00).isNaN)
    }

    @Test("writer round trip in every precision", arguments: [SafetensorsWriter.Precision.f32, .f16, .bf16])
    func roundTrip(precision: SafetensorsWriter.Precision) throws {
        var rng = TestRandom(seed: 41)
        let tensors = ["a": rng.tensor([3, 4]), "b.weight": rng.tensor([7]), "empty": Tensor(zeros: [0, 5])]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reel-st-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafetensorsWriter.write(tensors, to: url, precision: precision, metadata: ["k": "v"])
        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.metadata == ["k": "v"])
        #expect(file.names == ["a", "b.weight", "empty"])
        let tolerance: Float = switch precision { case .f32: 0; case .f16: 1e-3; case .bf16: 8e-3 }
        for (name, t) in tensors {
            let back = try file.tensor(name)
            #expect(back.shape == t.shape)
            if t.count > 0 { #expect(back.maxAbsDifference(t) <= tolerance) }
        }
    }

    // MARK: - Malformed files: each gives a clear error, never a crash.

    static func file(header: String, data: [UInt8] = [], claimedLength: UInt64? = nil) -> Data {
        var out = Data()
        var length = (claimedLength ?? UInt64(header.utf8.count)).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    @Test("malformed files are rejected with the reason", arguments: [
        (Data(), SafetensorsError.Kind.truncated, "too short"),
        (Data([1, 2, 3]), .truncated, "too short"),
        (file(header: "{}", claimedLength: 500), .truncated, "truncated"),
        (file(header: "{}", claimedLength: UInt64.max), .badHeader, "exceeds"),
        (file(header: "{not json"), .badHeader, "not valid JSON"),
        (file(header: "[1,2]"), .badHeader, "not a JSON object"),
        (file(header: #"{"t":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .badEntry, "unknown dtype"),
        (file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .badEntry, "needs 8"),
        (file(header: #"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .badEntry, "non-negative"),
        (file(header: #"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .badEntry, "non-negative"),
        (file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), .truncated, "truncated"),
        (file(header: #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]), .truncated, "spans"),
        (file(header: #"{"t":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]), .badEntry, "data_offsets"),
        (file(header: #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), .badEntry, "too large"),
        (file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
              data: [UInt8](repeating: 0, count: 8)), .badEntry, "overlap"),
        (file(header: #"{"__metadata__":{"k":1}}"#), .badHeader, "not a string"),
        (file(header: #"{"t":"x"}"#), .badEntry, "not an object"),
    ])
    func malformed(bytes: Data, kind: SafetensorsError.Kind, phrase: String) {
        let error = #expect(throws: SafetensorsError.self) { try SafetensorsFile(bytes: bytes, source: "test.safetensors") }
        #expect(error?.kind == kind)
        #expect(error?.description.contains(phrase) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.hasPrefix("test.safetensors:") == true)
    }

    @Test("a real file cut short at any point is rejected, not read past its end")
    func truncatedReferenceFile() throws {
        let full = try Data(contentsOf: fixtureURL("mixed.safetensors"))
        for cut in stride(from: 0, to: full.count - 1, by: 7) {
            #expect(throws: SafetensorsError.self) { try SafetensorsFile(bytes: full.prefix(cut)) }
        }
    }

    @Test("random corruption of header bytes never crashes the reader")
    func corruption() throws {
        let full = try Data(contentsOf: fixtureURL("mixed.safetensors"))
        var rng = TestRandom(seed: 51)
        var rejected = 0
        for _ in 0..<500 {
            var bytes = [UInt8](full)
            for _ in 0..<3 { bytes[Int(rng.next() % 200)] = UInt8(truncatingIfNeeded: rng.next()) }
            do {
                let file = try SafetensorsFile(bytes: Data(bytes))
                for name in file.names { _ = try? file.tensor(name) }
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 0)
    }

    @Test("a missing file names the path")
    func missingFile() {
        let error = #expect(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/w.safetensors")) }
        #expect(error?.kind == .unreadable)
        #expect(error?.description.contains("/nonexistent/w.safetensors") == true)
    }
}
