using System.Globalization;
using System.Text.Json.Nodes;

namespace RelayCluster.Core.Wire;

/// <summary>
/// Type and range checks for one request parameter, worded as OpenAI words them, with its codes. The shapes
/// come from OpenAI's own 400s as SDK users have reported them: <c>Invalid type for 'temperature': expected a
/// decimal, but got a string instead.</c> (<c>invalid_type</c>), <c>Invalid 'n': integer above maximum value.
/// Expected a value &lt;= 128, but got 130 instead.</c> (<c>integer_above_max_value</c>), <c>Invalid 'max_tokens':
/// integer below minimum value. Expected a value &gt;= 1, but got -678 instead.</c>, and the decimal forms
/// (<c>decimal_above_max_value</c>, <c>decimal_below_min_value</c>). A JSON <c>null</c> is an absent value: every
/// optional parameter of the chat and embeddings bodies is nullable in OpenAI's specification.
/// </summary>
public static class ParameterRules
{
    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>], or null/absent.</summary>
    public static RelayError? Decimal(JsonNode? node, string param, double min, double max)
    {
        if (node is null)
        {
            return null;
        }

        if (!JsonKinds.IsNumber(node))
        {
            return TypeError(param, "a decimal", node);
        }

        // A number beyond double's range (1e400) does not read as a double: it is out of range on its side.
        var raw = Shorten(node.ToJsonString());
        var value = node.AsValue().TryGetValue<double>(out var parsed) ? parsed : raw.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
        return value > max
            ? RelayError.BadRequest($"Invalid '{param}': decimal above maximum value. Expected a value <= {Format(max)}, but got {raw} instead.", param, "decimal_above_max_value")
            : value < min
                ? RelayError.BadRequest($"Invalid '{param}': decimal below minimum value. Expected a value >= {Format(min)}, but got {raw} instead.", param, "decimal_below_min_value")
                : null;
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>] (its value), or null/absent (no value, no error).</summary>
    public static (long? Value, RelayError? Error) Integer(JsonNode? node, string param, long min, long max)
    {
        if (node is null)
        {
            return (null, null);
        }

        if (!JsonKinds.IsNumber(node))
        {
            return (null, TypeError(param, "an integer", node));
        }

        var raw = node.ToJsonString();
        if (!raw.TrimStart('-').All(char.IsAsciiDigit))
        {
            // 1.5 or 1e3: JSON numbers with a fraction or an exponent are decimals to OpenAI's validator.
            return (null, RelayError.InvalidType(param, "an integer", "a decimal"));
        }

        // An integer too big for a long (2^63 and beyond) is simply out of range, on its side.
        var fits = JsonKinds.TryGetInt(node, out var value);
        var negative = raw.StartsWith('-');
        if (!fits ? !negative : value > max)
        {
            return (null, RelayError.BadRequest(
                $"Invalid '{param}': integer above maximum value. Expected a value <= {max}, but got {Shorten(raw)} instead.", param, "integer_above_max_value"));
        }

        if (!fits || value < min)
        {
            return (null, RelayError.BadRequest(
                $"Invalid '{param}': integer below minimum value. Expected a value >= {min}, but got {Shorten(raw)} instead.", param, "integer_below_min_value"));
        }

        return (value, null);
    }

    public static RelayError? Bool(JsonNode? node, string param) =>
        node is null || JsonKinds.IsBool(node) ? null : TypeError(param, "a boolean", node);

    public static RelayError? String(JsonNode? node, string param) =>
        node is null || JsonKinds.IsString(node) ? null : TypeError(param, "a string", node);

    public static RelayError? Object(JsonNode? node, string param) =>
        node is null or JsonObject ? null : TypeError(param, "an object", node);

    /// <summary>A required string: missing (or null) and wrong type are told apart, as OpenAI does.</summary>
    public static RelayError? RequiredString(JsonObject owner, string name, string param) => owner[name] switch
    {
        null => RelayError.MissingParameter(param),
        var node => String(node, param),
    };

    /// <summary>
    /// The <c>type</c> of a tagged object (a content part, a tool, <c>response_format</c>, <c>tool_choice</c>): present,
    /// else <c>missing_required_parameter</c> for <c>{param}.type</c>, and one of <paramref name="supported"/>.
    /// </summary>
    public static RelayError? RequiredType(JsonObject owner, string param, params string[] supported) =>
        owner["type"] is null ? RelayError.MissingParameter($"{param}.type") : OneOf(owner["type"], $"{param}.type", supported);

    /// <summary>
    /// One of <paramref name="supported"/>: <c>Invalid value: 'xml'. Supported values are: 'text', 'json_object', and
    /// 'json_schema'.</c> (OpenAI's wording for an enum, code <c>invalid_value</c>).
    /// </summary>
    public static RelayError? OneOf(JsonNode? node, string param, params string[] supported)
    {
        if (node is null)
        {
            return null;
        }

        if (!JsonKinds.IsString(node))
        {
            return TypeError(param, "a string", node);
        }

        var value = node.GetValue<string>();
        return supported.Contains(value, StringComparer.Ordinal) ? null : UnsupportedValue(param, value, supported);
    }

    public static RelayError UnsupportedValue(string param, string value, IReadOnlyList<string> supported)
    {
        var list = supported.Count == 1
            ? $"'{supported[0]}'"
            : string.Join(", ", supported.Take(supported.Count - 1).Select(s => $"'{s}'")) + (supported.Count > 2 ? "," : "") + $" and '{supported[^1]}'";
        return RelayError.BadRequest($"Invalid value: '{Shorten(value)}'. Supported values are: {list}.", param, "invalid_value");
    }

    /// <summary>OpenAI's 400 for an array that must hold at least one element (code <c>empty_array</c>).</summary>
    public static RelayError EmptyArray(string param) => RelayError.BadRequest(
        $"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.", param, "empty_array");

    public static RelayError TypeError(string param, string expected, JsonNode? got) =>
        RelayError.InvalidType(param, expected, JsonKinds.IsNumber(got)
            ? got!.ToJsonString().Any(c => c is '.' or 'e' or 'E') ? "a decimal" : "an integer"
            : JsonKinds.Describe(got));

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
