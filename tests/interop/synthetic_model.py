"""Small synthetic models of the architectures vkquant runs, written with the PyPI `gguf` writer (the
independent writer): random F32 weights scaled so activations stay O(1) and predictions are far
from uniform, and a byte-level BPE vocabulary (256 byte tokens, a few merges, an end-of-text control
token) with the pre-tokenizer the architecture's models name. Used by interop_check.py `arch`."""
import numpy as np
import gguf

from byte_level import byte_level_tokens


MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "Ġ s", "e d", "Ġ w", "o n", "Ġ h"]


def write_model(arch: str, path: str, seed: int = 7, dim: int = 64, heads: int = 4, kv_heads: int = 2,
                hidden: int = 128, layers: int = 2, ctx: int = 256, variant: bool = False, unused_tokens: int = 0,
                f16: bool = False):
    """arch: qwen2 (q/k/v biases), qwen3 (per-head q/k RMSNorm, head_dim 32 ≠ dim/heads), llama3 (GGUF
    architecture llama with Llama 3's rope_freqs tensor, pre-tokenizer llama-bpe) or gemma3 (embedding × √dim,
    q/k and post norms, GeGLU, sliding-window attention of 24 keys on every other block with RoPE base
    10000, tied head) or phi3 (q, k, v in one attn_qkv tensor and gate, up in one ffn_up tensor, NeoX RoPE).
    variant: the same model without its feature doing anything (biases zeroed, head-norm weights 1, rope
    factors 1, a window wider than the text; for phi3 the gate and up halves swapped, which a forward that
    splits the fused tensor the wrong way round would not notice), so a test can check the feature moves the
    result.
    unused_tokens: that many more vocabulary entries no text produces (type UNUSED), for a large embedding.
    qwen3moe (qwen3's attention, a mixture-of-experts FFN: 8 experts of width hidden/2, top 2, softmax routing
    renormalised) and mixtral (GGUF architecture llama with the same mixture, experts of width hidden): the
    residual stream's first dimension is held at a constant (embedding column 0, zero rows 0 of attn_output and
    ffn_down) and the router's column 0 pushes expert 7 far down, so expert 7 receives no token. Their variant
    makes every expert a copy of expert 0, so routing no longer matters.
    f16: matrices stored as F16 (as a released model's), vectors F32."""
    rng = np.random.default_rng(seed)
    tokens = byte_level_tokens() + ["".join(m.split(" ")) for m in MERGES] + ["<|endoftext|>"]
    types = [gguf.TokenType.NORMAL] * (len(tokens) - 1) + [gguf.TokenType.CONTROL]
    eot = len(tokens) - 1
    tokens += [f"<unused{i}>" for i in range(unused_tokens)]
    types += [gguf.TokenType.UNUSED] * unused_tokens
    vocab = len(tokens)
    moe = arch in ("qwen3moe", "mixtral")
    experts, used = 8, 2
    expert_ff = hidden // 2 if arch == "qwen3moe" else hidden
    head_dim = 32 if arch in ("qwen3", "qwen3moe", "gemma3") else dim // heads
    w = gguf.GGUFWriter(path, "llama" if arch in ("llama3", "mixtral") else arch)
    w.add_context_length(ctx)
    w.add_embedding_length(dim)
    w.add_block_count(layers)
    w.add_feed_forward_length(hidden)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    if moe:
        w.add_expert_count(experts)
        w.add_expert_used_count(used)
        if arch == "qwen3moe":
            w.add_expert_feed_forward_length(expert_ff)
    if arch in ("qwen3", "qwen3moe", "gemma3"):
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if arch == "gemma3":
        w.add_sliding_window(100000 if variant else 24)
        w.add_uint32("gemma3.attention.sliding_window_pattern", 2)  # blocks 0, 2, … windowed; 1, 3, … global
    w.add_rope_freq_base(10000.0 if arch == "llama3" else 1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    if arch == "phi3":
        w.add_rope_dimension_count(head_dim)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    if f16:
        add_f32 = w.add_tensor
        w.add_tensor = lambda name, a, **kw: add_f32(name, a.astype(np.float16) if a.ndim == 2 else a, **kw)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe" if arch in ("llama3", "mixtral") else "qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(MERGES)
    w.add_eos_token_id(eot)
    w.add_bos_token_id(eot)
    w.add_add_bos_token(False)

    def mat(rows, cols, scale=1.0):
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float32)

    def vec(n, scale):
        return (rng.standard_normal(n) * scale).astype(np.float32)

    w.add_tensor("output_norm.weight", (1 + vec(dim, 0.1)).astype(np.float32))
    if arch == "gemma3":  # tied: the head is the embedding (scaled down here, as the lookup is × √dim)
        w.add_tensor("token_embd.weight", (rng.standard_normal((vocab, dim)) * 0.1).astype(np.float32))
    else:
        emb = rng.standard_normal((vocab, dim)).astype(np.float32)
        if moe:
            emb[:, 0] = 4.0  # a constant feature the router reads
        w.add_tensor("token_embd.weight", emb)
        w.add_tensor("output.weight", mat(vocab, dim, 1.0))
    if arch == "llama3":  # one factor per rotated pair, dividing its frequency (long-context scaling)
        factors = np.linspace(8.0, 1.0, head_dim // 2).astype(np.float32)  # slows the fast pairs: felt in 128 tokens
        w.add_tensor("rope_freqs.weight", np.ones_like(factors) if variant else factors)
    for b in range(layers):
        p = f"blk.{b}."
        w.add_tensor(p + "attn_norm.weight", (1 + vec(dim, 0.1)).astype(np.float32))
        qkv = []
        for name, rows, scale in (("attn_q", heads * head_dim, 2.0), ("attn_k", kv_heads * head_dim, 2.0),
                                  ("attn_v", kv_heads * head_dim, 1.0)):
            qkv.append(mat(rows, dim, scale))
            if arch != "phi3":
                w.add_tensor(p + name + ".weight", qkv[-1])
            if arch == "qwen2":
                bias = vec(rows, 1.0)  # large: a forward that drops or misplaces it scores far off
                w.add_tensor(p + name + ".bias", np.zeros_like(bias) if variant else bias)
        if arch in ("qwen3", "qwen3moe", "gemma3"):
            for name in ("attn_q_norm", "attn_k_norm"):
                g = np.exp(vec(head_dim, 0.8)).astype(np.float32)  # positive, spread 0.2 … 5: the norms matter
                w.add_tensor(p + name + ".weight", np.ones_like(g) if variant and arch == "qwen3" else g)
        if arch == "phi3":  # rows q | k | v
            w.add_tensor(p + "attn_qkv.weight", np.concatenate(qkv, axis=0))
        wo = mat(dim, heads * head_dim)
        if moe:
            wo[0, :] = 0  # the constant feature stays constant
        w.add_tensor(p + "attn_output.weight", wo)
        if arch == "gemma3":
            w.add_tensor(p + "post_attention_norm.weight", (1 + vec(dim, 0.1)).astype(np.float32))
            w.add_tensor(p + "post_ffw_norm.weight", (1 + vec(dim, 0.1)).astype(np.float32))
        w.add_tensor(p + "ffn_norm.weight", (1 + vec(dim, 0.1)).astype(np.float32))
        if moe:
            router = mat(experts, dim, 2.0)
            router[:, 0] = 1.0
            router[experts - 1, 0] = -4.0  # expert 7: far below the others for every token
            w.add_tensor(p + "ffn_gate_inp.weight", router)
            stacks = [np.stack([mat(expert_ff, dim) for _ in range(experts)]),
                      np.stack([mat(expert_ff, dim) for _ in range(experts)]),
                      np.stack([mat(dim, expert_ff) for _ in range(experts)])]
            stacks[2][:, 0, :] = 0
            if variant:
                stacks = [np.repeat(x[:1], experts, axis=0) for x in stacks]
            for name, x in zip(("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"), stacks):
                w.add_tensor(p + name + ".weight", np.ascontiguousarray(x))
            continue
        gate, up = mat(hidden, dim), mat(hidden, dim)
        if arch == "phi3":  # rows gate | up, as llama.cpp's fused SwiGLU splits them
            w.add_tensor(p + "ffn_up.weight", np.concatenate([up, gate] if variant else [gate, up], axis=0))
        else:
            w.add_tensor(p + "ffn_gate.weight", gate)
            w.add_tensor(p + "ffn_up.weight", up)
        w.add_tensor(p + "ffn_down.weight", mat(dim, hidden))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


ARCHITECTURES = ("qwen2", "qwen3", "llama3", "gemma3", "phi3", "qwen3moe", "mixtral")
