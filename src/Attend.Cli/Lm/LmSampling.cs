using System.Diagnostics;
using Attend.Data;
using Attend.Nn;

namespace Attend.Cli.Lm;

/// <summary>What <c>attend sample</c> was asked to do.</summary>
public sealed record LmSampleOptions(string Model, string Prompt, int MaxTokens, float Temperature, int? TopK, float? TopP, int Seed,
    bool NoCache = false, bool Bench = false);

/// <summary>Loads an LM checkpoint and continues a prompt with <see cref="Gpt.Generate"/> (KV cache unless --no-cache).</summary>
public static class LmSampling
{
    /// <summary>Returns the prompt (as the model saw it) followed by the generated text; warnings and timings go to <paramref name="log"/>.</summary>
    public static string Run(LmSampleOptions o, TextWriter log)
    {
        if (o.MaxTokens < 0) throw new CliException($"--max-tokens must be ≥ 0, not {o.MaxTokens}");
        if (o.TopK is <= 0) throw new CliException($"--top-k must be positive, not {o.TopK}");
        if (o.TopP is <= 0 or > 1) throw new CliException($"--top-p must be in (0, 1], not {o.TopP}");
        var (model, tok) = Load(o.Model);
        string prompt = o.Prompt.Length > 0 ? o.Prompt : "\n";
        var ids = tok.Encode(prompt, out int unknown);
        if (unknown > 0)
            log.WriteLine($"warning: {unknown} prompt character(s) are not in the model's vocabulary; they were replaced by '{tok.FallbackChar}'");
        int ctx = model.Config.BlockSize;
        if (ids.Length > ctx)
        {
            log.WriteLine($"warning: the prompt has {ids.Length} characters, more than the model's context of {ctx}; only its last {ctx} are used");
            ids = ids[^ctx..];
        }

        string Generate(bool cache, out double tokPerSec)
        {
            var sw = Stopwatch.StartNew();
            using var scope = Tensor.NewScope();
            var outIds = model.Generate(Tensor.FromArray(ids, [1, ids.Length]), o.MaxTokens, o.Temperature, o.TopK, o.TopP, new Random(o.Seed), cache)
                .ToInt64Array();
            tokPerSec = o.MaxTokens / Math.Max(1e-9, sw.Elapsed.TotalSeconds);
            return tok.Decode(outIds);
        }

        if (o.Bench)   // warm up (JIT, thread pool) both paths so that the timings compare like with like
            foreach (bool cache in new[] { true, false })
            {
                using var scope = Tensor.NewScope();
                model.Generate(Tensor.FromArray(ids, [1, ids.Length]), Math.Min(8, o.MaxTokens), o.Temperature, o.TopK, o.TopP, new Random(o.Seed), cache);
            }
        string text = Generate(!o.NoCache, out double rate);
        if (o.Bench)
        {
            string other = Generate(o.NoCache, out double otherRate);
            var (withCache, without) = o.NoCache ? (otherRate, rate) : (rate, otherRate);
            log.WriteLine($"{o.MaxTokens} tokens: {withCache:F0} tokens/s with the KV cache, {without:F0} tokens/s without " +
                          $"({withCache / without:F1}×){(other == text ? "; same text" : "; texts differ")}" +
                          (ids.Length + o.MaxTokens > ctx ? $"; past the context of {ctx} every token re-encodes the whole window, the cache only adding its upkeep" : ""));
        }
        return text;
    }

    /// <summary>The model (in evaluation mode) and tokenizer stored in checkpoint <paramref name="dir"/>.</summary>
    public static (Gpt Model, CharTokenizer Tokenizer) Load(string dir)
    {
        var (model, cfg) = ModelCheckpoint.Load(dir, "attend train lm --data kjv", LmModelConfig.FromJson, c => new Gpt(c.Gpt));
        return (model, new CharTokenizer(cfg.Vocab));
    }
}
