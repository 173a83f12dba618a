using Attend.Nn;
using Onnx;
using static Onnx.TensorProto.Types;

namespace Attend.Interop;

/// <summary>
/// The <see cref="Seq2Seq"/> encoder-decoder as ONNX graphs, named as Hugging Face's (Optimum's) seq2seq exports.
/// The source is token ids <c>input_ids</c> (batch, encoder_sequence_length), or feature frames <c>input_features</c>
/// (batch, feature_frames, C) whose frame subsampling is part of the graph; <c>attention_mask</c> (batch,
/// encoder_sequence_length) int64 is 1 for a real source position, 0 for padding (per encoder position).
/// <code>
/// Full:     source, attention_mask, decoder_input_ids (batch, decoder_sequence_length) → logits, encoder_last_hidden_state
/// Encoder:  source, attention_mask                                                     → last_hidden_state (batch, S, E)
/// Decoder:  input_ids (batch, decoder_sequence_length), encoder_hidden_states, encoder_attention_mask,
///           past_key_values.N.decoder.key|value (batch, H, past_decoder_sequence_length, D)
///                                           → logits, present.N.decoder.key|value (batch, H, total_decoder_sequence_length, D)
/// </code>
/// The decoder graph projects the encoder states for cross-attention on every call (one matrix product per layer)
/// rather than caching them: generation feeds back only the self-attention presents.
/// </summary>
internal static class Seq2SeqOnnx
{
    public static ModelProto Full(Seq2Seq m, int opset)
    {
        var (g, mods) = Builder(m, "attend_seq2seq", opset);
        var (memory, memMask) = Encoder(g, m, mods);
        var ids = g.Input("decoder_input_ids", DataType.Int64, "batch", "decoder_sequence_length");
        var logits = Decoder(g, m, mods, ids, memory, g.KeyPaddingMask(memMask), null);
        g.Output("logits", logits, DataType.Float, "batch", "decoder_sequence_length", m.Config.TargetVocab);
        g.Output("encoder_last_hidden_state", memory, DataType.Float, "batch", "encoder_sequence_length", m.Config.DModel);
        return g.Model(Doc(m, "encoder and decoder, teacher-forced"));
    }

    public static ModelProto Encoder(Seq2Seq m, int opset)
    {
        var (g, mods) = Builder(m, "attend_seq2seq_encoder", opset);
        var (memory, _) = Encoder(g, m, mods);
        g.Output("last_hidden_state", memory, DataType.Float, "batch", "encoder_sequence_length", m.Config.DModel);
        return g.Model(Doc(m, "encoder"));
    }

    public static ModelProto DecoderWithPast(Seq2Seq m, int opset)
    {
        var c = m.Config;
        int H = c.Heads, D = c.DModel / c.Heads, n = c.DecoderLayers;
        var (g, mods) = Builder(m, "attend_seq2seq_decoder", opset);
        var ids = g.Input("input_ids", DataType.Int64, "batch", "decoder_sequence_length");
        var memory = g.Input("encoder_hidden_states", DataType.Float, "batch", "encoder_sequence_length", c.DModel);
        var memMask = g.Input("encoder_attention_mask", DataType.Int64, "batch", "encoder_sequence_length");
        var pasts = Enumerable.Range(0, n).Select(i =>
            (g.Input($"past_key_values.{i}.decoder.key", DataType.Float, "batch", H, "past_decoder_sequence_length", D),
             g.Input($"past_key_values.{i}.decoder.value", DataType.Float, "batch", H, "past_decoder_sequence_length", D))).ToArray();
        var logits = Decoder(g, m, mods, ids, memory, g.KeyPaddingMask(memMask), pasts);
        g.Output("logits", logits, DataType.Float, "batch", "decoder_sequence_length", c.TargetVocab);
        for (int i = 0; i < n; i++)
            foreach (var kv in new[] { "key", "value" })
                g.Output($"present.{i}.decoder.{kv}", $"present.{i}.decoder.{kv}", DataType.Float, "batch", H, "total_decoder_sequence_length", D);
        return g.Model(Doc(m, "decoder with past key/values"));
    }

    private static (OnnxBuilder, Dictionary<string, Module>) Builder(Seq2Seq m, string name, int opset) =>
        (new OnnxBuilder(name, opset, OnnxExport.Tensors(m)), m.NamedModules().ToDictionary(x => x.Name, x => x.Module));

    private static string Doc(Seq2Seq m, string what)
    {
        var c = m.Config;
        string source = c.SourceVocab > 0 ? $"{c.SourceVocab} source tokens" : $"{c.SourceFeatures} features per frame, subsampled {c.Subsampling}×";
        return $"Attend Seq2Seq ({what}): {c.EncoderLayers}+{c.DecoderLayers} layers, {c.Heads} heads, d_model {c.DModel}, {source}, " +
               $"{c.TargetVocab} target tokens, {c.Positions} positions; BOS {c.Bos}, EOS {c.Eos?.ToString() ?? "none"}, pad {c.Pad}";
    }

    /// <summary>Declares the source inputs and computes memory (B, S, E); returns it and the attention_mask input.</summary>
    private static (string Memory, string Mask) Encoder(OnnxBuilder g, Seq2Seq m, Dictionary<string, Module> mods)
    {
        var c = m.Config;
        string x;
        if (c.SourceVocab > 0)
            x = g.Op("Gather", [g.Param("src_emb.weight"), g.Input("input_ids", DataType.Int64, "batch", "encoder_sequence_length")]);
        else
        {   // FrameSubsampling: stack frame pairs, project, GELU; once more (stacked) for a factor of 4
            var frames = g.Input("input_features", DataType.Float, "batch", "feature_frames", c.SourceFeatures);
            x = g.Gelu(g.Linear(g.Op("Reshape", [frames, g.Ints([0, -1, 2 * c.SourceFeatures])]), "subsample.sub1"));   // (B, F/2, E)
            if (c.Subsampling == 4) x = g.Op("Reshape", [x, g.Ints([0, -1, 2 * c.DModel])]);
            x = g.Linear(x, "subsample.sub2");                                                                          // (B, S, E)
        }
        var mask = g.Input("attention_mask", DataType.Int64, "batch", "encoder_sequence_length");
        x = g.Op("Add", [x, g.TableRows(PositionTable(g, c, "src_pos"), g.Ints([0]), g.Dim(x, 1))]);
        var keyMask = g.KeyPaddingMask(mask);
        int n = c.EncoderLayers;
        for (int i = 0; i < n; i++)
        {
            string p = $"transformer.encoder.layers.{i}.";
            var layer = (TransformerEncoderLayer)mods[p[..^1]];
            string SelfAttention(string h) => g.Linear(Attend(g, m, p + "self_attn", h, h, keyMask, false), p + "self_attn.out_proj");
            string FeedForward(string h) => g.Linear(g.Activation(layer.Activation, g.Linear(h, p + "linear1")), p + "linear2");
            if (layer.NormFirst)
            {
                x = g.Op("Add", [x, SelfAttention(Norm(g, mods, x, p + "norm1"))]);
                x = g.Op("Add", [x, FeedForward(Norm(g, mods, x, p + "norm2"))]);
            }
            else
            {
                x = Norm(g, mods, g.Op("Add", [x, SelfAttention(x)]), p + "norm1");
                x = Norm(g, mods, g.Op("Add", [x, FeedForward(x)]), p + "norm2");
            }
        }
        return (Norm(g, mods, x, "transformer.encoder.norm"), mask);
    }

    /// <summary>Logits (B, T, V) for decoder inputs ids (B, T) after the pasts' positions (none: from 0).</summary>
    private static string Decoder(OnnxBuilder g, Seq2Seq m, Dictionary<string, Module> mods, string ids, string memory, string memMask,
        (string Key, string Value)[]? pasts)
    {
        var c = m.Config;
        string T = g.Dim(ids, 1), past = pasts is null ? g.Ints([0]) : g.Dim(pasts[0].Key, 2), total = g.Op("Add", [past, T]);
        var x = g.Op("Add", [g.Op("Gather", [g.Param("tgt_emb.weight"), ids]), g.TableRows(PositionTable(g, c, "tgt_pos"), past, total)]);
        bool opCausal = g.Opset >= 23 && pasts is null;
        var causal = opCausal ? null : g.CausalMask(past, total, null);
        for (int i = 0; i < c.DecoderLayers; i++)
        {
            string p = $"transformer.decoder.layers.{i}.";
            var layer = (TransformerDecoderLayer)mods[p[..^1]];
            var present = pasts is null ? null : ((string, string)?)($"present.{i}.decoder.key", $"present.{i}.decoder.value");
            string SelfAttention(string h) => g.Linear(Attend(g, m, p + "self_attn", h, h, causal, opCausal, pasts?[i], present), p + "self_attn.out_proj");
            string Cross(string h) => g.Linear(Attend(g, m, p + "multihead_attn", h, memory, memMask, false), p + "multihead_attn.out_proj");
            string FeedForward(string h) => g.Linear(g.Activation(layer.Activation, g.Linear(h, p + "linear1")), p + "linear2");
            if (layer.NormFirst)
            {
                x = g.Op("Add", [x, SelfAttention(Norm(g, mods, x, p + "norm1"))]);
                x = g.Op("Add", [x, Cross(Norm(g, mods, x, p + "norm2"))]);
                x = g.Op("Add", [x, FeedForward(Norm(g, mods, x, p + "norm3"))]);
            }
            else
            {
                x = Norm(g, mods, g.Op("Add", [x, SelfAttention(x)]), p + "norm1");
                x = Norm(g, mods, g.Op("Add", [x, Cross(x)]), p + "norm2");
                x = Norm(g, mods, g.Op("Add", [x, FeedForward(x)]), p + "norm3");
            }
        }
        return g.Linear(Norm(g, mods, x, "transformer.decoder.norm"), "head");
    }

    /// <summary>The learned table <paramref name="learned"/>.weight, or the shared sinusoidal buffer pos.pe.</summary>
    private static string PositionTable(OnnxBuilder g, Seq2SeqConfig c, string learned) =>
        g.Param(c.Positions == Seq2SeqPositions.Learned ? learned + ".weight" : "pos.pe");

    private static string Norm(OnnxBuilder g, Dictionary<string, Module> mods, string x, string prefix) =>
        g.LayerNorm(x, prefix, ((LayerNorm)mods[prefix]).Eps);

    /// <summary>A MultiheadAttention's heads before out_proj: q from x, k and v from kv (x itself for self-attention),
    /// with the packed in_proj_weight [3E, E] (rows q, k, v) and in_proj_bias [3E] → (B, L, E).</summary>
    private static string Attend(OnnxBuilder g, Seq2Seq m, string prefix, string x, string kv, string? mask, bool isCausal,
        (string, string)? past = null, (string, string)? present = null)
    {
        int E = m.Config.DModel, H = m.Config.Heads;
        string w = g.Param(prefix + ".in_proj_weight");
        string? b = g.Has(prefix + ".in_proj_bias") ? g.Param(prefix + ".in_proj_bias") : null;
        string q, k, v;
        if (x == kv)
        {
            var qkv = g.Split(g.Linear(x, w, b), E, E, E);
            (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        }
        else
        {
            q = g.Linear(x, g.Rows(w, 0, E), b is null ? null : g.Rows(b, 0, E));
            var kvs = g.Split(g.Linear(kv, g.Rows(w, E, 3 * E), b is null ? null : g.Rows(b, E, 3 * E)), E, E);
            (k, v) = (kvs[0], kvs[1]);
        }
        return g.Attention(q, k, v, H, H, E / H, mask, isCausal, null, past, present);
    }
}
