import Foundation
import Testing
@testable import Tensors

@Suite("Convolution and upsampling")
struct ConvolutionTests {
    static func referenceConv(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: Int, padding: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding - kh) / stride + 1, ow = (wd + 2 * padding - kw) / stride + 1
        var out = [Double](repeating: 0, count: n * o * oh * ow)
        for b in 0..<n { for oc in 0..<o { for y in 0..<oh { for xx in 0..<ow {
            var s = bias.map { Double($0.scalars[oc]) } ?? 0
            for ic in 0..<c { for ky in 0..<kh { for kx in 0..<kw {
                let iy = y * stride - padding + ky, ix = xx * stride - padding + kx
                if iy >= 0 && iy < h && ix >= 0 && ix < wd {
                    s += Double(x.scalars[((b * c + ic) * h + iy) * wd + ix]) * Double(w.scalars[((oc * c + ic) * kh + ky) * kw + kx])
                }
            }}}
            out[((b * o + oc) * oh + y) * ow + xx] = s
        }}}}
        return Tensor(shape: [n, o, oh, ow], doubles: out)
    }

    @Test("conv2d over strides, paddings and kernel sizes",
          arguments: [(3, 1, 1), (3, 2, 1), (3, 1, 0), (1, 1, 0), (1, 2, 0), (4, 2, 1), (5, 1, 2), (3, 3, 2), (7, 1, 3), (2, 1, 1)])
    func conv2d(config: (kernel: Int, stride: Int, padding: Int)) {
        var rng = TestRandom(seed: UInt64(100 + config.kernel * 10 + config.stride * 3 + config.padding))
        let x = rng.tensor([2, 3, 9, 8])
        let w = rng.tensor([5, 3, config.kernel, config.kernel])
        let bias = rng.tensor([5])
        for b in [bias, nil] as [Tensor?] {
            let got = Tensor.conv2d(x, weight: w, bias: b, stride: config.stride, padding: config.padding)
            let expected = Self.referenceConv(x, w, b, stride: config.stride, padding: config.padding)
            #expect(got.shape == expected.shape)
            #expect(maxError(got, expected) < 1e-5)
        }
    }

    @Test("conv2d matches PyTorch")
    func conv2dTorch() throws {
        let torch = try SafetensorsFile(contentsOf: fixtureURL("kernels.safetensors"))
        let got = Tensor.conv2d(try torch.tensor("image"), weight: try torch.tensor("conv_weight"),
                                bias: try torch.tensor("conv_bias"), stride: 2, padding: 1)
        #expect(maxError(got, try torch.tensor("conv_s2_p1")) < 1e-5)
    }

    @Test("nearest upsampling by an integer factor repeats pixels")
    func nearestInteger() {
        var rng = TestRandom(seed: 31)
        let x = rng.tensor([1, 2, 3, 4])
        let up = x.upsampled(scale: 2, mode: .nearest)
        #expect(up.shape == [1, 2, 6, 8])
        for c in 0..<2 { for y in 0..<6 { for xx in 0..<8 {
            #expect(up.scalars[(c * 6 + y) * 8 + xx] == x.scalars[(c * 3 + y / 2) * 4 + xx / 2])
        }}}
    }

    @Test("nearest and bilinear upsampling match PyTorch (align_corners=False)",
          arguments: [("up_nearest_10x14", UpsamplingMode.nearest, 10, 14), ("up_nearest_7x9", .nearest, 7, 9),
                      ("up_bilinear_10x14", .bilinear, 10, 14), ("up_bilinear_8x11", .bilinear, 8, 11)])
    func upsamplingTorch(name: String, mode: UpsamplingMode, height: Int, width: Int) throws {
        let torch = try SafetensorsFile(contentsOf: fixtureURL("kernels.safetensors"))
        let got = try torch.tensor("image").upsampled(height: height, width: width, mode: mode)
        #expect(maxError(got, try torch.tensor(name)) < 1e-5)
    }

    @Test("bilinear upsampling interpolates between neighbours")
    func bilinearByHand() {
        // A 1×2 row [0, 4] doubled to 1×4: half-pixel centres give [0, 1, 3, 4].
        let x = Tensor(shape: [1, 1, 1, 2], scalars: [0, 4])
        #expect(x.upsampled(height: 1, width: 4, mode: .bilinear).scalars == [0, 1, 3, 4])
    }
}
