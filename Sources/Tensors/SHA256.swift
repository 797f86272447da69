import CKernels

/// SHA-256 (FIPS 180-4), for checksums of weights and segment files. The block compression is C
/// (CKernels): the x86 SHA extensions where the CPU has them, else portable code.
public struct SHA256: Sendable {
    /// Which compression runs: `automatic` picks the SHA extensions when present; `portable`
    /// forces the plain C rounds (tests compare the two).
    public enum Implementation: Sendable { case automatic, portable }

    private let implementation: Implementation
    private var state: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    private var pending: [UInt8] = []
    /// Bytes fed so far.
    private var length: UInt64 = 0

    public init(implementation: Implementation = .automatic) {
        self.implementation = implementation
    }

    /// Feeds more bytes. Arrays and other contiguous collections take the buffer path.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ update(buffer: UnsafeRawBufferPointer($0)) }) != nil { return }
        for byte in bytes {
            length &+= 1
            pending.append(byte)
            if pending.count == 64 { compressPending() }
        }
    }

    /// Feeds a contiguous buffer (fast path for large files).
    public mutating func update(buffer: UnsafeRawBufferPointer) {
        var index = 0
        length &+= UInt64(buffer.count)
        if !pending.isEmpty {
            while index < buffer.count && pending.count < 64 { pending.append(buffer[index]); index += 1 }
            if pending.count == 64 { compressPending() }
        }
        let blocks = (buffer.count - index) / 64
        if blocks > 0 {
            compress(UnsafeRawBufferPointer(rebasing: buffer[index..<(index + 64 * blocks)]))
            index += 64 * blocks
        }
        while index < buffer.count { pending.append(buffer[index]); index += 1 }
    }

    /// The digest; the hasher should not be used afterwards.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { compress($0) }
        pending.removeAll()
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } }
    }

    /// Hex digest of `bytes`.
    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    /// The digest as lower-case hex.
    public mutating func finalizeHex() -> String {
        finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    private mutating func compressPending() {
        let block = pending
        block.withUnsafeBytes { compress($0) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Whole 64-byte blocks.
    private mutating func compress(_ blocks: UnsafeRawBufferPointer) {
        precondition(blocks.count % 64 == 0)
        guard let base = blocks.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let implementation = implementation
        state.withUnsafeMutableBufferPointer { state in
            switch implementation {
            case .automatic: reel_sha256_blocks(state.baseAddress, base, blocks.count / 64)
            case .portable: reel_sha256_blocks_portable(state.baseAddress, base, blocks.count / 64)
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
