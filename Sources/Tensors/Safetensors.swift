import Foundation

/// Element types the safetensors format names. Reel reads F32, F16 and BF16 as fp32; the others
/// are recognised (so a file holding them still validates) but cannot be loaded as a `Tensor`.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

/// Why a safetensors file could not be read. Each case names the file and the fault.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case unreadable, truncated, badHeader, badEntry, missingTensor, unsupportedDType
    }
    public let kind: Kind
    public let source: String
    public let detail: String

    public var description: String { "\(source): \(detail)" }
}

/// A validated safetensors file: an 8-byte little-endian header length, a JSON header mapping each
/// tensor name to `{dtype, shape, data_offsets}`, then the raw little-endian data.
///
/// Validation happens at open: the header must be a JSON object within the file, every entry must
/// have a known dtype, non-negative shape, and offsets inside the data section whose length matches
/// the shape; entries must not overlap. Loading a tensor afterwards cannot read out of bounds.
public struct SafetensorsFile: Sendable {
    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        public let dtype: SafetensorsDType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let range: Range<Int>
    }

    /// Where the bytes came from (a path), for error messages.
    public let source: String
    /// The `__metadata__` string map, if any.
    public let metadata: [String: String]
    /// Every tensor's entry by name.
    public let entries: [String: Entry]
    private let bytes: Data
    private let dataStart: Int

    /// Largest header accepted (the format's own limit is 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// Opens and validates a file (memory-mapped).
    public init(contentsOf url: URL) throws(SafetensorsError) {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafetensorsError(kind: .unreadable, source: url.path,
                                   detail: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(bytes: data, source: url.path)
    }

    /// Validates bytes already in memory.
    public init(bytes: Data, source: String = "<memory>") throws(SafetensorsError) {
        func fail(_ kind: SafetensorsError.Kind, _ detail: String) -> SafetensorsError {
            SafetensorsError(kind: kind, source: source, detail: detail)
        }
        // Indices below assume the bytes start at 0; re-base (a copy) only a slice that does not,
        // so a memory-mapped file stays mapped rather than being copied whole.
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        guard bytes.count >= 8 else {
            throw fail(.truncated, "file of \(bytes.count) bytes is too short to be safetensors (needs an 8-byte header length)")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw fail(.badHeader, "header length \(headerLength) exceeds the \(Self.maxHeaderBytes)-byte limit")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail(.truncated, "header claims \(headerLength) bytes but only \(bytes.count - 8) follow: the file is truncated")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = bytes.count - dataStart
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<dataStart))
        } catch {
            throw fail(.badHeader, "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw fail(.badHeader, "header is not a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail(.badHeader, "__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw fail(.badHeader, "__metadata__ value for \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let fields = value as? [String: Any] else { throw fail(.badEntry, "entry \(name) is not an object") }
            guard let dtypeName = fields["dtype"] as? String else { throw fail(.badEntry, "entry \(name) has no dtype") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail(.badEntry, "entry \(name) has unknown dtype \(dtypeName)")
            }
            guard let rawShape = fields["shape"] as? [Any] else { throw fail(.badEntry, "entry \(name) has no shape list") }
            var shape: [Int] = []
            var elements = 1
            for extent in rawShape {
                guard let number = extent as? Int, number >= 0 else {
                    throw fail(.badEntry, "entry \(name) has a shape entry that is not a non-negative integer")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: number)
                guard !overflow else { throw fail(.badEntry, "entry \(name) has a shape too large to address") }
                elements = product
                shape.append(number)
            }
            guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = offsets[0] as? Int, let end = offsets[1] as? Int else {
                throw fail(.badEntry, "entry \(name) needs data_offsets [begin, end]")
            }
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail(.truncated, "entry \(name) spans bytes \(begin)..<\(end) but the data section has \(dataLength): the file is truncated or corrupt")
            }
            let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow, byteCount == end - begin else {
                throw fail(.badEntry, "entry \(name) has \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(byteCount)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: begin..<end)
        }
        let ordered = entries.values.map(\.range).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(ordered, ordered.dropFirst()) where a.upperBound > b.lowerBound {
            throw fail(.badEntry, "two tensors overlap in the data section at byte \(b.lowerBound)")
        }
        self.source = source
        self.metadata = metadata
        self.entries = entries
        self.bytes = bytes
        self.dataStart = dataStart
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Loads a tensor as fp32 (F32 copied, F16 and BF16 widened).
    public func tensor(_ name: String) throws(SafetensorsError) -> Tensor {
        guard let entry = entries[name] else {
            throw SafetensorsError(kind: .missingTensor, source: source, detail: "no tensor named \(name)")
        }
        let count = Tensor.elementCount(entry.shape)
        var out = [Float](repeating: 0, count: count)
        let start = dataStart + entry.range.lowerBound
        switch entry.dtype {
        case .f32:
            out.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + count * 4)]))
                }
            }
            // Data is little-endian; so is every machine Reel targets, which this checks.
            assert(1.littleEndian == 1)
        case .f16:
            bytes.withUnsafeBytes { src in
                for i in 0..<count {
                    let bits = UInt16(src[start + 2 * i]) | UInt16(src[start + 2 * i + 1]) << 8
                    out[i] = HalfPrecision.float(fromHalf: bits)
                }
            }
        case .bf16:
            bytes.withUnsafeBytes { src in
                for i in 0..<count {
                    let bits = UInt32(src[start + 2 * i]) | UInt32(src[start + 2 * i + 1]) << 8
                    out[i] = Float(bitPattern: bits << 16)
                }
            }
        default:
            throw SafetensorsError(kind: .unsupportedDType, source: source,
                                   detail: "tensor \(name) is \(entry.dtype.rawValue); only F32, F16 and BF16 load as fp32")
        }
        return Tensor(shape: entry.shape, scalars: out)
    }
}

/// Writes tensors in the safetensors format, atomically (temp file, fsync, rename).
public enum SafetensorsWriter {
    /// Storage type on disk.
    public enum Precision: Sendable { case f32, f16, bf16 }

    /// The encoded file as bytes. Tensors are laid out in name order; the header is padded with
    /// spaces to a multiple of 8 bytes, as the reference implementation does.
    public static func encode(_ tensors: [String: Tensor], precision: Precision = .f32,
                              metadata: [String: String] = [:]) -> Data {
        let dtype: SafetensorsDType = switch precision { case .f32: .f32; case .f16: .f16; case .bf16: .bf16 }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var payload = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let begin = payload.count
            switch precision {
            case .f32:
                t.scalars.withUnsafeBytes { payload.append(contentsOf: $0) }
            case .f16:
                for x in t.scalars { let h = HalfPrecision.half(fromFloat: x); payload.append(UInt8(h & 0xff)); payload.append(UInt8(h >> 8)) }
            case .bf16:
                for x in t.scalars { let h = HalfPrecision.bfloat(fromFloat: x); payload.append(UInt8(h & 0xff)); payload.append(UInt8(h >> 8)) }
            }
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [begin, payload.count]] as [String: Any]
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(payload)
        return out
    }

    /// Writes the file at `url` so that it appears complete or not at all.
    public static func write(_ tensors: [String: Tensor], to url: URL, precision: Precision = .f32,
                             metadata: [String: String] = [:]) throws {
        try AtomicFile.write(encode(tensors, precision: precision, metadata: metadata), to: url)
    }
}
