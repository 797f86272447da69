"""reel-tiny networks: a per-frame convolutional VAE and a latent video DiT.

Both use only operations the Swift port implements with BLAS: conv2d (3x3 or 1x1, stride 1 or 2,
zero padding), GroupNorm, SiLU, nearest 2x upsampling, residual adds (VAE); linear, LayerNorm,
GELU (exact, with erf), SiLU and multi-head softmax self-attention (DiT). scripts/train/README.md
spells out the forward passes and tensor layouts for the port.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = 8          # GroupNorm groups in the VAE
VAE_NORM_EPS = 1e-6
DIT_NORM_EPS = 1e-6
# What a DiT block's self-attention spans (DiTBlock.attention); "factorised" DiTs alternate them.
ATTENTION_SPANS = ("full", "space", "time")
LOCAL_MIXING = ("none", "shift")   # what a DiT block's MLP does between fc1 and the GELU (spacetime_shift)


def attention_spans(attention, depth):
    """The per-block spans for a DiT's `attention` setting: "full" everywhere, or "factorised":
    space, time, space, time, ... (each frame's layout, then each place's history)."""
    if attention == "full":
        return ["full"] * depth
    if attention == "factorised":
        return ["space" if i % 2 == 0 else "time" for i in range(depth)]
    raise ValueError(f"unknown attention {attention}")


class ResBlock(nn.Module):
    """x + conv(silu(gn(conv(silu(gn(x)))))) at a fixed channel count."""

    def __init__(self, channels):
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, channels, eps=VAE_NORM_EPS)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(GROUPS, channels, eps=VAE_NORM_EPS)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Encoder(nn.Module):
    """[n, 3, 64, 64] in [-1, 1] -> [n, out_channels, 8, 8].

    conv_in, then per level a ResBlock (where blocks_per_level says so) and a stride-2 3x3 conv to
    the next width; a ResBlock at 8x8; GroupNorm, SiLU, conv_out.
    """

    def __init__(self, widths, out_channels, blocks_per_level):
        super().__init__()
        self.conv_in = nn.Conv2d(3, widths[0], 3, padding=1)
        self.levels = nn.ModuleList()
        for level, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
            blocks = [ResBlock(w_in) for _ in range(blocks_per_level[level])]
            self.levels.append(nn.ModuleDict({
                "blocks": nn.Sequential(*blocks),
                "down": nn.Conv2d(w_in, w_out, 3, stride=2, padding=1),
            }))
        self.mid = ResBlock(widths[-1])
        self.norm_out = nn.GroupNorm(GROUPS, widths[-1], eps=VAE_NORM_EPS)
        self.conv_out = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for level in self.levels:
            h = level["down"](level["blocks"](h))
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """[n, latent_channels, 8, 8] -> [n, 3, 64, 64] in about [-1, 1].

    conv_in and a ResBlock at 8x8, then per level: nearest 2x upsampling, a 3x3 conv to the next
    (smaller) width and ResBlocks; GroupNorm, SiLU, conv_out.
    """

    def __init__(self, widths, latent_channels, blocks_per_level):
        super().__init__()
        widths = list(reversed(widths))
        blocks_per_level = list(reversed(blocks_per_level))
        self.conv_in = nn.Conv2d(latent_channels, widths[0], 3, padding=1)
        self.mid = ResBlock(widths[0])
        self.levels = nn.ModuleList()
        for level, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
            blocks = [ResBlock(w_out) for _ in range(blocks_per_level[level])]
            self.levels.append(nn.ModuleDict({
                "conv": nn.Conv2d(w_in, w_out, 3, padding=1),
                "blocks": nn.Sequential(*blocks),
            }))
        self.norm_out = nn.GroupNorm(GROUPS, widths[-1], eps=VAE_NORM_EPS)
        self.conv_out = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for level in self.levels:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = level["blocks"](level["conv"](h))
        return self.conv_out(F.silu(self.norm_out(h)))


class VAE(nn.Module):
    """Per-frame VAE: 64x64x3 <-> 8x8xC. Pixels in [-1, 1]; the DiT sees (mean - shift) * scale.

    With log_variance the encoder's conv_out has 2C outputs (posterior mean, then log-variance),
    as in training; the exported encoder keeps only the C mean channels.
    """

    def __init__(self, widths=(32, 64, 128, 128), latent_channels=8, encoder_blocks=(0, 1, 1),
                 decoder_blocks=(1, 1, 1), log_variance=True):
        super().__init__()
        self.latent_channels = latent_channels
        self.encoder = Encoder(widths, latent_channels * (2 if log_variance else 1), encoder_blocks)
        self.decoder = Decoder(widths, latent_channels, decoder_blocks)

    def posterior(self, x):
        """(mean, log-variance), each [n, C, 8, 8]; only for a model built with log_variance."""
        return self.encoder(x).chunk(2, dim=1)

    def encode(self, x):
        """The posterior mean [n, C, 8, 8]."""
        return self.encoder(x)[:, :self.latent_channels]

    def decode(self, z):
        return self.decoder(z)


def sinusoidal_embedding(values, dim, max_period=10000.0):
    """[n] -> [n, dim]: [cos(v * f_k) for k < dim/2] ++ [sin(v * f_k)], f_k = max_period^(-k / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=values.device) / half)
    args = values.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def correlated_noise(shape, shared_fraction, generator=None):
    """Standard-normal noise [n, T, C, H, W] whose frames share a fraction of their variance:
    sqrt(f) * shared [n, 1, C, H, W] + sqrt(1 - f) * independent (f = 0: independent frames).

    With independent frames the noise alone hints a different subject position in every frame, and
    the model learns to follow those hints (a wandering track) instead of the motion words; a shared
    part makes frame-to-frame differences come from the clip (and so from the text) rather than the
    noise. Reel's NoiseField draws the shared part once per film and level, so windows that overlap
    still start from identical noise."""
    n, frames = shape[0], shape[1]
    shared = torch.randn((n, 1) + tuple(shape[2:]), generator=generator)
    independent = torch.randn(tuple(shape), generator=generator)
    return math.sqrt(shared_fraction) * shared + math.sqrt(1.0 - shared_fraction) * independent


def position_table(frames, rows, cols, dim):
    """Fixed [frames * rows * cols, dim] spacetime embedding, tokens in (t, y, x) order.

    Concatenation of sinusoidal_embedding(coordinate, width, max_period=100) for t, y and x with
    widths dim - 2p, p and p where p = 2 * (dim // 6).
    """
    part = 2 * (dim // 6)
    t_dim = dim - 2 * part
    t, y, x = torch.meshgrid(torch.arange(frames), torch.arange(rows), torch.arange(cols), indexing="ij")
    return torch.cat([
        sinusoidal_embedding(t.reshape(-1), t_dim, 100.0),
        sinusoidal_embedding(y.reshape(-1), part, 100.0),
        sinusoidal_embedding(x.reshape(-1), part, 100.0),
    ], dim=-1)


class MLP(nn.Module):
    """linear -> activation -> linear."""

    def __init__(self, dim_in, dim_hidden, dim_out, activation):
        super().__init__()
        self.fc1 = nn.Linear(dim_in, dim_hidden)
        self.fc2 = nn.Linear(dim_hidden, dim_out)
        self.activation = activation

    def forward(self, x):
        return self.fc2(self.activation(self.fc1(x)))


SHIFT_OFFSETS = [(dt, dy, dx) for dt in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dt, dy, dx) != (0, 0, 0)]


def spacetime_shift(h, frames, grid):
    """Shifts channel groups of h [n, T * g * g, C] (tokens in (t, y, x) order) to neighbouring
    tokens: with G = C // 52, channels [k G, (k + 1) G) of token (t, y, x) take the values of token
    (t + dt, y + dy, x + dx) for the k-th of the 26 non-zero offsets in {-1, 0, 1}^3 (SHIFT_OFFSETS,
    dt slowest), zero where that token is outside the window; channels from 26 G on (about half) stay.

    Used inside the DiT's MLP (between fc1 and the GELU) with --local-mixing shift: fc2 then mixes
    what every token's neighbours one frame before and after and one patch position away hold, with
    the same weights everywhere. Attention with absolute positions has to learn "the subject one
    frame ago, one patch to the left" separately for every place; a shift expresses it once. It is
    the temporal shift module (Lin et al., 2019) over space and time: a depthwise 3x3x3
    convolution's access to neighbours at no arithmetic, where PyTorch's CPU depthwise conv3d made
    a training step 2.8x slower."""
    n, length, channels = h.shape
    group = channels // (2 * len(SHIFT_OFFSETS))
    # split, not slicing: the gradient of a channel slice is a zero tensor of the whole input that
    # the slice is added into (27 fills of [n, T, g, g, C] a block, a fifth of a training step on
    # this 2-core machine); split's gradient is one cat. The same values either way, bit for bit.
    chunks = h.reshape(n, frames, grid, grid, channels).split(
        [group] * len(SHIFT_OFFSETS) + [channels - group * len(SHIFT_OFFSETS)], dim=-1)
    # F.pad with a negative width crops: (-d, d) on an axis takes index i + d into i, zero past the end.
    parts = [F.pad(chunk, (0, 0, -dx, dx, -dy, dy, -dt, dt)) for chunk, (dt, dy, dx) in zip(chunks, SHIFT_OFFSETS)]
    parts.append(chunks[-1])
    return torch.cat(parts, dim=-1).reshape(n, length, channels)


def modulate(x, shift, scale):
    """x * (1 + scale) + shift with [n, d] shift/scale broadcast over tokens."""
    return x * (1.0 + scale[:, None]) + shift[:, None]


CROSS_HEADS = 2   # heads of the cross-attention to the text tokens, each dim // 4 wide


class CrossAttention(nn.Module):
    """Every token attends to the window's text tokens (DiT.text_context): proj(softmax(q k^T /
    sqrt(head_dim)) v) with q = q(norm(x)) and k, v = kv(context), inner width dim // 2 in CROSS_HEADS
    heads; proj starts at zero, so a new block starts as the block without it.

    adaLN gives every token the same per-channel scale and shift from the caption, so a caption can
    only reach *where* something is through what the blocks build from the position embedding and
    those scales; the pooled embedding carries the motion words (a linear probe reads them 93 %
    right) but the DiT learnt to ignore them. Here the product q . k of a token's own features (its
    place in the window, what is there) with the caption's is the attention weight, a bilinear
    readout by position; it is how text reaches the image in most text-to-image and -video models."""

    def __init__(self, dim):
        super().__init__()
        inner = dim // 2
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=DIT_NORM_EPS)
        self.q = nn.Linear(dim, inner)
        self.kv = nn.Linear(dim, 2 * inner)
        self.proj = nn.Linear(inner, dim)

    def forward(self, x, context, context_mask=None):
        """context_mask: bool [n, L] (False = padding, not attended) or None (every token counts)."""
        n, length, _ = x.shape
        inner = self.q.out_features
        head = inner // CROSS_HEADS
        q = self.q(self.norm(x)).view(n, length, CROSS_HEADS, head).transpose(1, 2)
        k, v = self.kv(context).view(n, context.shape[1], 2, CROSS_HEADS, head).permute(2, 0, 3, 1, 4)
        logits = (q @ k.transpose(-2, -1)) * (head ** -0.5)
        if context_mask is not None:
            logits = logits.masked_fill(~context_mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, length, inner))


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-zero: six [n, d] vectors from the conditioning
    (shift, scale, gate for attention; shift, scale, gate for the MLP), gates zero at init."""

    def __init__(self, dim, heads, mlp_ratio, span="full", frames=1, grid=1, local_mixing="none", text_tokens=0):
        super().__init__()
        if span not in ATTENTION_SPANS:
            raise ValueError(f"unknown attention span {span}")
        self.heads, self.span, self.frames = heads, span, frames
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=DIT_NORM_EPS)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=DIT_NORM_EPS)
        self.mlp = MLP(dim, mlp_ratio * dim, dim, F.gelu)   # exact GELU (erf)
        if local_mixing not in LOCAL_MIXING:
            raise ValueError(f"unknown local mixing {local_mixing}")
        self.local_mixing, self.frames, self.grid = local_mixing, frames, grid
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.cross = CrossAttention(dim) if text_tokens else None

    def group(self, x):
        """[n, T * S, d] -> [groups, span, d]: "full" keeps the window ([n, T * S, d]), "space" makes
        each frame a group ([n * T, S, d]), "time" each patch position ([n * S, T, d], through a
        transpose). Tokens are in (t, y, x) order."""
        n, length, dim = x.shape
        frames, per_frame = self.frames, length // self.frames
        if self.span == "space":
            return x.reshape(n * frames, per_frame, dim)
        if self.span == "time":
            return x.reshape(n, frames, per_frame, dim).transpose(1, 2).reshape(n * per_frame, frames, dim)
        return x

    def ungroup(self, out, n):
        """Inverse of group for a batch of n windows."""
        if self.span == "time":
            out = out.reshape(n, -1, self.frames, out.shape[-1]).transpose(1, 2)
        return out.reshape(n, -1, out.shape[-1])

    def attention_weights(self, grouped):
        """(softmax weights [groups, heads, span, span], values [groups, heads, span, head_dim]) for
        grouped tokens (see group)."""
        groups, span, dim = grouped.shape
        q, k, v = self.qkv(grouped).view(groups, span, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        return torch.softmax((q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5), dim=-1), v

    def attention(self, x):
        """Self-attention over the block's span: "full" (all tokens of the window), "space" (the
        tokens of one frame) or "time" (one patch position across the window's frames)."""
        grouped = self.group(x)
        weights, v = self.attention_weights(grouped)
        groups, span, dim = grouped.shape
        return self.ungroup(self.proj((weights @ v).transpose(1, 2).reshape(groups, span, dim)), x.shape[0])

    def feed_forward(self, x):
        """The MLP; with local mixing "shift", fc2(gelu(spacetime_shift(fc1(x))))."""
        if self.local_mixing == "none":
            return self.mlp(x)
        return self.mlp.fc2(F.gelu(spacetime_shift(self.mlp.fc1(x), self.frames, self.grid)))

    def forward(self, x, c, context=None, context_mask=None):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(c)).chunk(6, dim=-1)
        x = x + gate1[:, None] * self.attention(modulate(self.norm1(x), shift1, scale1))
        if self.cross is not None:
            x = x + self.cross(x, context, context_mask)
        return x + gate2[:, None] * self.feed_forward(modulate(self.norm2(x), shift2, scale2))


class FlowConditioned(nn.Module):
    """What the DiT and the track planner share: the conditioning vector from flow time, frame
    stride and pooled text (time_mlp, stride_mlp, text_mlp) and the text normalisation in front of
    text_mlp. Swift's twin is FlowConditioning in ReelTinyDiT.swift."""

    def add_conditioning(self, dim, text_dim, frequency_dim):
        """Creates time_mlp, stride_mlp, text_mlp and the normalisation buffers (in that order)."""
        self.frequency_dim = frequency_dim
        self.time_mlp = MLP(frequency_dim, dim, dim, F.silu)
        self.stride_mlp = MLP(frequency_dim, dim, dim, F.silu)
        self.text_mlp = MLP(text_dim, dim, dim, F.silu)
        # Text normalisation (not saved with the weights): text_mlp sees (text - text_center) *
        # text_scale. Pooled MiniLM embeddings of our captions differ from each other by a few
        # hundredths per dimension, far less than the time embedding's unit-sized features, so the
        # conditioning pathway barely learnt; centring on the caption mean and scaling the spread
        # to unit RMS per dimension fixes that. export.py folds both into text_mlp.fc1, so the
        # exported model (and the Swift port) take the raw embedding. Identity by default.
        self.register_buffer("text_center", torch.zeros(text_dim), persistent=False)
        self.register_buffer("text_scale", torch.ones(()), persistent=False)

    @staticmethod
    def stride_value(stride):
        """The number fed to the stride's sinusoidal embedding: 200 * log2(stride)."""
        return 200.0 * torch.log2(stride.float())

    def text_feature(self, text):
        """[n, dim]: text_mlp((text - text_center) * text_scale)."""
        return self.text_mlp((text - self.text_center) * self.text_scale)

    def conditioning(self, text_feature, stride, t):
        """[n, dim]: time_mlp(emb(1000 t)) + stride_mlp(emb(200 log2 stride)) + text_feature (of
        text_feature(text))."""
        return (self.time_mlp(sinusoidal_embedding(1000.0 * t, self.frequency_dim))
                + self.stride_mlp(sinusoidal_embedding(self.stride_value(stride), self.frequency_dim))
                + text_feature)

    def set_text_normalisation(self, center, scale):
        self.text_center.copy_(torch.as_tensor(center, dtype=torch.float32))
        self.text_scale.fill_(float(scale))


class DiT(FlowConditioned):
    """Velocity model on a window of latent frames.

    forward(x [n, T, C, H, W] noisy latents, anchors [n, T, C, H, W], mask [n, T] (1 = anchor frame),
    text [n, 384] pooled MiniLM embedding (zeros = no text), stride [n] frame stride, t [n] flow time)
    -> velocity [n, T, C, H, W]. Input tokens: 2x2 spatial patches of the 2C+1 channels
    [x, anchors * mask, mask] per frame. attention: "full" (every block attends over the whole
    window) or "factorised" (blocks alternate attention within a frame and across frames at one
    patch position; see attention_spans). local_mixing: "none" (plain MLPs) or "shift" (each MLP
    takes groups of its hidden channels from the neighbouring tokens; spacetime_shift).
    text_tokens: 0, or the number of tokens made from the text feature that every block
    cross-attends to after its self-attention (text_context, CrossAttention).
    text_words: with text_tokens >= 1, the blocks also cross-attend to MiniLM's per-token states
    (each projected to dim and normalised); text is then [n, 1 + L, 384]: row 0 the pooled
    embedding, rows 1.. the tokens, all-zero rows padding (text_encoder.pack_text). A [n, 384]
    text is taken as having no word rows.
    layout_channels: 0, or layout.LAYOUT_CHANNELS: the subject's layout in every frame as that many
    more input channels (forward's layout [n, T, L, H, W], layout.layout_channels; None or zeros =
    no layout), appended after [x, anchors * mask, mask].
    """

    def __init__(self, frames=16, latent_channels=8, latent_size=8, patch=2, dim=256, depth=8, heads=4,
                 mlp_ratio=4, text_dim=384, frequency_dim=256, attention="full", local_mixing="none", text_tokens=0,
                 text_words=False, layout_channels=0):
        super().__init__()
        if text_words and not text_tokens:
            raise ValueError("text_words needs text_tokens >= 1 (the pooled token is what a text without words, "
                             "the unconditional pass included, attends to)")
        self.frames, self.channels, self.latent_size, self.patch = frames, latent_channels, latent_size, patch
        self.grid = latent_size // patch
        self.layout_channels = layout_channels
        in_features = (2 * latent_channels + 1 + layout_channels) * patch * patch
        self.patch_embed = nn.Linear(in_features, dim)
        self.register_buffer("position", position_table(frames, self.grid, self.grid, dim), persistent=True)
        self.add_conditioning(dim, text_dim, frequency_dim)
        self.attention, self.local_mixing, self.text_tokens = attention, local_mixing, text_tokens
        # text_tokens > 0: the text feature also becomes that many tokens every block cross-attends
        # to (text_context, CrossAttention); 0: adaLN is the text's only way in.
        self.text_to_tokens = nn.Linear(dim, text_tokens * dim) if text_tokens else None
        self.text_words = bool(text_words)
        self.word_proj = nn.Linear(text_dim, dim) if text_words else None
        self.blocks = nn.ModuleList([DiTBlock(dim, heads, mlp_ratio, span, frames, self.grid, local_mixing, text_tokens)
                                     for span in attention_spans(attention, depth)])
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=DIT_NORM_EPS)
        self.modulation_out = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, latent_channels * patch * patch)
        self.initialize()

    def initialize(self):
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            nn.init.zeros_(block.modulation.weight)
            nn.init.zeros_(block.modulation.bias)
            if block.cross is not None:
                nn.init.zeros_(block.cross.proj.weight)
        for mlp in (self.time_mlp, self.stride_mlp, self.text_mlp):
            nn.init.normal_(mlp.fc1.weight, std=0.02)
            nn.init.normal_(mlp.fc2.weight, std=0.02)
        for layer in (self.modulation_out, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def text_context(self, text_feature):
        """[n, text_tokens, dim]: layer_norm(text_to_tokens(silu(text_feature))) split into tokens
        (no affine), what CrossAttention attends to; None without text tokens."""
        if self.text_to_tokens is None:
            return None
        tokens = self.text_to_tokens(F.silu(text_feature)).view(len(text_feature), self.text_tokens, -1)
        return F.layer_norm(tokens, tokens.shape[-1:], eps=DIT_NORM_EPS)

    def word_context(self, tokens, words):
        """The pooled tokens [n, k, dim] followed by the projected, normalised word states of words
        [n, L, 384] (zero rows = padding), and the key mask [n, k + L] (False at padding)."""
        projected = self.word_proj(words)
        projected = F.layer_norm(projected, projected.shape[-1:], eps=DIT_NORM_EPS)
        present = words.abs().sum(dim=-1) > 0
        mask = torch.cat([torch.ones(tokens.shape[:2], dtype=torch.bool, device=words.device), present], dim=1)
        return torch.cat([tokens, projected.to(tokens.dtype)], dim=1), mask

    def patchify(self, x):
        """[n, T, K, H, W] -> [n, T * g * g, K * p * p], token (t, gy, gx), feature (k, dy, dx)."""
        n, frames, k, _, _ = x.shape
        p, g = self.patch, self.grid
        x = x.reshape(n, frames, k, g, p, g, p).permute(0, 1, 3, 5, 2, 4, 6)
        return x.reshape(n, frames * g * g, k * p * p)

    def unpatchify(self, tokens):
        """Inverse of patchify for the C output channels."""
        n = tokens.shape[0]
        p, g, c = self.patch, self.grid, self.channels
        x = tokens.reshape(n, self.frames, g, g, c, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return x.reshape(n, self.frames, c, g * p, g * p)

    def forward(self, x, anchors, mask, text, stride, t, layout=None):
        m = mask[:, :, None, None, None].to(x.dtype).expand(-1, -1, 1, *x.shape[-2:])
        parts = [x, anchors * m, m]
        if self.layout_channels:
            parts.append(x.new_zeros(x.shape[:2] + (self.layout_channels,) + x.shape[3:]) if layout is None
                         else layout.to(x.dtype))
        inputs = torch.cat(parts, dim=2)
        h = self.patch_embed(self.patchify(inputs)) + self.position
        words = None
        if text.dim() == 3:
            text, words = text[:, 0], text[:, 1:]
        text_feature = self.text_feature(text)
        c = self.conditioning(text_feature, stride, t)
        context, context_mask = self.text_context(text_feature), None
        if self.text_words:
            words = text.new_zeros(len(text), 0, text.shape[-1]) if words is None else words
            context, context_mask = self.word_context(context, words)
        for block in self.blocks:
            h = block(h, c, context, context_mask)
        shift, scale = self.modulation_out(F.silu(c)).chunk(2, dim=-1)
        return self.unpatchify(self.out(modulate(self.norm_out(h), shift, scale)))


def attention_pool(words, score, value, heads):
    """[n, D] from token states [n, L, 384] (all-zero rows are padding), score a map to `heads`
    columns and value to D channels: per head h, the softmax over the tokens of score's column h
    weighs value's channel block h (D / heads wide); zero for a text with no tokens."""
    n, length, _ = words.shape
    valid = words.abs().sum(-1) > 0
    scores = score(words).masked_fill(~valid[..., None], float("-inf"))
    weights = torch.softmax(scores, dim=1).nan_to_num(0.0)                     # [n, L, heads]
    values = value(words).reshape(n, length, heads, -1)
    return (weights[..., None] * values).sum(1).reshape(n, -1)


class TrackPlanner(FlowConditioned):
    """Flow-matching model of the subject's track [T, 3] (layout.py's normalised x, y, r per frame)
    given the prompt and the frame stride: the first stage of layout-then-video generation.

    forward(z [n, T * 3] noisy track, text [n, 384] pooled MiniLM embedding (zeros = none), stride
    [n], t [n]) -> velocity [n, T * 3] (noise - track, the DiT's convention). A residual MLP: z is
    projected to `dim`, then `depth` blocks h += gate * fc2(silu(fc1(modulate(layer_norm(h), shift,
    scale)))) with (shift, scale, gate) from the conditioning (adaLN-zero, as the DiT), then the
    modulated final norm and a linear map back. Conditioning: the DiT's (FlowConditioned), text
    normalisation included (folded into text_mlp.fc1 on export).

    word_heads: 0, or the number of attention-pooling heads over MiniLM's per-token states; text is
    then [n, 1 + L, 384] as text_encoder.pack_text gives it (row 0 pooled, rows 1.. the tokens,
    all-zero rows padding) and the text feature is text_feature(pooled) + word_feature(tokens). The
    pooled embedding is nearly a bag of words: "travels from left to right" and "from right to
    left" pool to almost the same vector, and a planner reading it alone swapped left and right on
    held-out phrasings; each head's softmax over the tokens can pick the direction word in its
    context. A [n, 384] text is taken as having no token rows.

    shape_classes: 0, or the number of subject shapes (world.SHAPES) a shape head names from the
    prompt (shape_logits), for a DiT whose layout coverage is the subject's own shape rather than a
    disc (train_dit.py --shape-coverage); the head reads the raw MiniLM pooled embedding and token
    states, not the track, and is trained after the planner (train_shape_head.py)."""

    def __init__(self, frames=16, dim=256, depth=4, mlp_ratio=2, text_dim=384, frequency_dim=256, word_heads=0,
                 shape_classes=0, shape_hidden=128):
        super().__init__()
        self.frames = frames
        self.word_heads = word_heads
        self.inp = nn.Linear(frames * 3, dim)
        self.add_conditioning(dim, text_dim, frequency_dim)
        if word_heads:
            if dim % word_heads:
                raise ValueError(f"planner: dim {dim} is not a multiple of word_heads {word_heads}")
            self.word_score = nn.Linear(text_dim, word_heads)
            self.word_value = nn.Linear(text_dim, dim)
        self.shape_classes = shape_classes
        if shape_classes:
            self.shape_in = nn.Linear(text_dim, shape_hidden)
            self.shape_score = nn.Linear(text_dim, 1)
            self.shape_value = nn.Linear(text_dim, shape_hidden)
            self.shape_out = nn.Linear(shape_hidden, shape_classes)
        self.modulations = nn.ModuleList([nn.Linear(dim, 3 * dim) for _ in range(depth)])
        self.mlps = nn.ModuleList([MLP(dim, mlp_ratio * dim, dim, F.silu) for _ in range(depth)])
        self.modulation_out = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, frames * 3)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for layer in list(self.modulations) + [self.modulation_out, self.out]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def word_feature(self, words):
        """[n, dim] from token states [n, L, 384] (all-zero rows are padding): attention_pool with
        word_score and word_value over word_heads heads; zero for a text with no tokens."""
        return attention_pool(words, self.word_score, self.word_value, self.word_heads)

    def shape_logits(self, text):
        """[n, shape_classes] from text [n, 1 + L, 384] (pack_text; or [n, 384], no tokens):
        shape_out(silu(shape_in(pooled) + sum_k softmax_k(shape_score(token_k)) shape_value(token_k)))
        over the non-padding tokens (no tokens: the pooled part alone)."""
        pooled = text[:, 0] if text.dim() == 3 else text
        hidden = self.shape_in(pooled)
        if text.dim() == 3 and text.shape[1] > 1:
            hidden = hidden + attention_pool(text[:, 1:], self.shape_score, self.shape_value, 1)
        return self.shape_out(F.silu(hidden))

    def planner_text_feature(self, text):
        if text.dim() == 3:
            feature = self.text_feature(text[:, 0])
            return feature + self.word_feature(text[:, 1:]) if self.word_heads else feature
        return self.text_feature(text)

    def forward(self, z, text, stride, t):
        c = F.silu(self.conditioning(self.planner_text_feature(text), stride, t))
        h = self.inp(z)[:, None]    # one token: modulate broadcasts over a token axis
        for modulation, mlp in zip(self.modulations, self.mlps):
            shift, scale, gate = modulation(c).chunk(3, dim=-1)
            h = h + gate[:, None] * mlp(modulate(F.layer_norm(h, h.shape[-1:], eps=DIT_NORM_EPS), shift, scale))
        shift, scale = self.modulation_out(c).chunk(2, dim=-1)
        return self.out(modulate(F.layer_norm(h, h.shape[-1:], eps=DIT_NORM_EPS), shift, scale))[:, 0]
