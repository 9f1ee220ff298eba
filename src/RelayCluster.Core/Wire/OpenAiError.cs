using System.Text.Json.Serialization;

namespace RelayCluster.Core.Wire;

/// <summary>The OpenAI error object: all four keys always present, <c>param</c> and <c>code</c> may be null.</summary>
public sealed record OpenAiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);

public sealed record OpenAiErrorEnvelope([property: JsonPropertyName("error")] OpenAiError Error);

/// <summary>
/// An error the relay answers with itself: status, envelope, and the retry headers the official SDKs
/// read (<c>Retry-After</c>, <c>retry-after-ms</c>, <c>x-should-retry</c>).
/// </summary>
public sealed record RelayError(int Status, OpenAiError Error, TimeSpan? RetryAfter = null, bool? ShouldRetry = null)
{
    public static RelayError InvalidJson() => BadRequest(
        "We could not parse the JSON body of your request. The relay expects a JSON object, as the OpenAI API does.", null, null);

    /// <summary>The invalid-JSON 400 with what is wrong (<paramref name="detail"/> never quotes the body beyond a property name).</summary>
    public static RelayError InvalidJson(string detail) => BadRequest(
        $"We could not parse the JSON body of your request: {detail}. The relay expects a JSON object, as the OpenAI API does.", null, null);

    public static RelayError BadRequest(string message, string? param, string? code) =>
        new(400, new OpenAiError(message, "invalid_request_error", param, code), ShouldRetry: false);

    public static RelayError MissingParameter(string param) =>
        BadRequest($"Missing required parameter: '{param}'.", param, "missing_required_parameter");

    public static RelayError InvalidType(string param, string expected, string got) =>
        BadRequest($"Invalid type for '{param}': expected {expected}, but got {got} instead.", param, "invalid_type");

    /// <summary>
    /// A field the endpoint does not know, refused as OpenAI refuses one (400 <c>unknown_parameter</c>), so a misspelt
    /// field is never a silent no-op. The message shows at most 64 characters of <paramref name="name"/>.
    /// </summary>
    public static RelayError UnknownParameter(string name, string? param) =>
        BadRequest($"Unrecognized request argument supplied: {(name.Length <= 64 ? name : name[..64] + "…")}", param, "unknown_parameter");

    public static RelayError InvalidValue(string param, string message) =>
        BadRequest($"Invalid '{param}': {message}", param, "invalid_value");

    public static RelayError BodyTooLarge(long limit) => new(413, new OpenAiError(
        $"Request body too large: the limit is {limit} bytes.", "invalid_request_error", null, "request_too_large"), ShouldRetry: false);

    public static RelayError MissingApiKey() => new(401, new OpenAiError(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        "invalid_request_error", null, "invalid_api_key"), ShouldRetry: false);

    public static RelayError InvalidApiKey(string redactedKey) => new(401, new OpenAiError(
        $"Incorrect API key provided: {redactedKey}.", "invalid_request_error", null, "invalid_api_key"), ShouldRetry: false);

    public static RelayError InvalidAdminKey() => new(401, new OpenAiError(
        "Incorrect admin key provided.", "invalid_request_error", null, "invalid_api_key"), ShouldRetry: false);

    public static RelayError ModelNotFound(string model) => new(404, new OpenAiError(
        $"The model `{model}` does not exist or you do not have access to it.", "invalid_request_error", "model", "model_not_found"), ShouldRetry: false);

    public static RelayError NotFound(string what) => new(404, new OpenAiError(
        $"No such {what}.", "invalid_request_error", null, "not_found"), ShouldRetry: false);

    public static RelayError InternalError() => new(500, new OpenAiError(
        "The relay had an error while processing your request.", "server_error", null, null));

    public static RelayError UpstreamUnavailable(string reason) => new(502, new OpenAiError(
        $"The request to the upstream provider failed before it answered: {reason}", "server_error", null, "upstream_unavailable"), TimeSpan.FromSeconds(1));
}
