using System.CommandLine;
using Attend.Attention;

namespace Attend.Cli;

/// <summary>The <c>--attention</c> option of the training commands.</summary>
public static class AttentionChoice
{
    public static Option<string> Option() => new("--attention")
    {
        Description = $"attention variant: {AttentionVariant.Choices} (reinforce: reward = −per-sequence loss)",
        DefaultValueFactory = _ => "soft",
    };

    /// <summary>Parses <paramref name="text"/>; a bad name or argument is a one-line CLI error.</summary>
    public static AttentionVariant Parse(string text)
    {
        try { return AttentionVariant.Parse(text); }
        catch (Exception ex) when (ex is FormatException or ArgumentException) { throw new CliException($"--attention: {ex.Message}"); }
    }

    /// <summary>The collector a training loop needs for REINFORCE attention (null for every other variant).</summary>
    public static ReinforceAttention? Reinforce(AttentionVariant v) => v.Kind == AttentionKind.Reinforce ? new ReinforceAttention() : null;
}
