namespace Attend.Interpret;

/// <summary>
/// A trained model behind <c>attend explain</c> and <c>attend serve</c>: input in, the model's output and its captured
/// attention (<see cref="AttentionCapture"/>) out, every view labelled with tokens. One adapter per kind of model (text
/// models in the CLI; image and audio models add their own, taking the file's bytes).
/// </summary>
public interface IAttentionExplainer
{
    /// <summary>One line saying what the model is and does.</summary>
    string Description { get; }
    /// <summary>An input that shows the model at work (the explorer's initial value).</summary>
    string Example { get; }
    /// <summary>The longest input accepted, in characters.</summary>
    int MaxInput { get; }
    /// <summary>Runs the model on <paramref name="input"/> with a capture open.</summary>
    /// <exception cref="ArgumentException">the input is empty, too long, or not something the model can read (the message says why).</exception>
    Explanation Explain(string input);
}
