using RelayCluster.Core.Wire;

namespace RelayCluster.Core.Configuration;

/// <summary>
/// Which kind of endpoint a model serves (<see cref="ModelOptions.Endpoint"/>): <c>chat</c> (/v1/chat/completions)
/// or <c>embeddings</c> (/v1/embeddings). A model set for neither explicitly is an embeddings model when its name
/// or upstream name contains <c>embed</c> (as every embedding model OpenAI, Mistral, Cohere, Voyage and Ollama
/// publish does: text-embedding-3-small, mistral-embed, embed-english-v3.0, nomic-embed-text), else a chat model.
/// A call on the other kind is refused before admission, so it costs nothing and never reaches the upstream.
/// </summary>
public static class ModelEndpoints
{
    public const string Chat = "chat";
    public const string Embeddings = "embeddings";

    public static bool IsKnown(string? endpoint) => endpoint is Chat or Embeddings;

    /// <summary>The kind model <paramref name="name"/> serves: its configured one, else inferred from its names.</summary>
    public static string Of(string name, ModelOptions options) =>
        options.Endpoint ?? (name.Contains("embed", StringComparison.OrdinalIgnoreCase)
            || options.UpstreamModel?.Contains("embed", StringComparison.OrdinalIgnoreCase) == true ? Embeddings : Chat);

    public static string For(RelayOperation operation) => operation == RelayOperation.Embeddings ? Embeddings : Chat;

    /// <summary>
    /// The 400 for a model of the other kind, in OpenAI's words. OpenAI itself answers a chat call on a non-chat
    /// model with "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean
    /// to use v1/completions?" (param <c>model</c>, seen with status 404), and an embeddings call on a chat model
    /// with "You are not allowed to generate embeddings from this model" (status 403); both are
    /// <c>invalid_request_error</c>. The relay keeps the wording but answers 400 with <c>param: model</c> and code
    /// <c>model_not_supported</c>: a 404 would read as an unknown model and a 403 as a key without permission,
    /// where the request is what is wrong. The hint names the endpoint this relay does serve the model on.
    /// </summary>
    public static RelayError Refusal(RelayOperation operation, string model) => operation == RelayOperation.Embeddings
        ? RelayError.BadRequest(
            $"You are not allowed to generate embeddings from this model: '{model}' is a chat model, served on v1/chat/completions.",
            "model", "model_not_supported")
        : RelayError.BadRequest(
            $"This is not a chat model and thus not supported in the v1/chat/completions endpoint: '{model}' is an embeddings model. Did you mean to use v1/embeddings?",
            "model", "model_not_supported");
}
