using System.Text.Json.Nodes;

namespace RelayCluster.Upstreams.Simulator;

/// <summary>
/// A deterministic instance of a JSON schema, as a model following it would write: an object with the required
/// properties (every property when none is marked required), each of its type; the first of an <c>enum</c>, a
/// <c>const</c>, the first branch of <c>anyOf</c>/<c>oneOf</c>, local <c>$ref</c>s (<c>#/$defs/…</c>,
/// <c>#/definitions/…</c>), one array item (or <c>minItems</c>, up to 16), numbers within <c>minimum</c>/<c>maximum</c>.
/// Strings are words chosen by the property's name, so the same schema always gives the same instance.
/// Used for tool-call arguments and <c>response_format: json_schema</c> answers.
/// </summary>
public static class SimulatorSchema
{
    private const int MaxDepth = 8;

    /// <summary>
    /// The most values one instance has. Depth and array length alone do not bound it: items or properties that
    /// refer back to their own schema multiply at every level (16 items, 8 levels: 16^8 values), so a small hostile
    /// schema would hang the simulator and fill its memory. Past this, values are null (like past the depth).
    /// </summary>
    private const int MaxValues = 4096;

    /// <summary>The most items an array gets, whatever its <c>minItems</c>: a hostile schema cannot make a huge answer.</summary>
    private const int MaxItems = 16;

    public static JsonNode? Instance(JsonNode? schema, IReadOnlyList<string> words) => Instance(schema, schema, "value", words, 0, new Walk());

    private static JsonNode? Instance(JsonNode? schema, JsonNode? root, string name, IReadOnlyList<string> words, int depth, Walk walk)
    {
        if (walk.Values++ >= MaxValues || depth > MaxDepth)
        {
            return null;
        }

        if (schema is not JsonObject s)
        {
            return Word(name, words);
        }

        if (Text(s["$ref"]) is { } reference && Resolve(root, reference) is { } target)
        {
            return Instance(target, root, name, words, depth + 1, walk);
        }

        if (s["const"] is { } constant)
        {
            return constant.DeepClone();
        }

        if (s["enum"] is JsonArray { Count: > 0 } values)
        {
            return values[0]?.DeepClone();
        }

        if ((s["anyOf"] ?? s["oneOf"]) is JsonArray { Count: > 0 } branches)
        {
            var branch = branches.FirstOrDefault(b => Text((b as JsonObject)?["type"]) != "null") ?? branches[0];
            return Instance(branch, root, name, words, depth + 1, walk);
        }

        if (s["allOf"] is JsonArray { Count: > 0 } all)
        {
            return Instance(all[0], root, name, words, depth + 1, walk);
        }

        var type = s["type"] switch
        {
            JsonArray types => types.Select(Text).FirstOrDefault(t => t is not null and not "null") ?? "null",
            var t => Text(t) ?? (s["properties"] is not null ? "object" : s["items"] is not null ? "array" : "string"),
        };
        return type switch
        {
            "object" => Object(s, root, words, depth, walk),
            "array" => new JsonArray([.. Enumerable.Range(0, (int)Math.Clamp(Number(s["minItems"]) ?? 1, 1, MaxItems))
                .TakeWhile(_ => walk.Values < MaxValues)
                .Select(i => Instance(s["items"], root, $"{name}{i}", words, depth + 1, walk))]),
            "integer" => (long)Math.Round(Bounded(s, 42)),
            "number" => Bounded(s, 4.2),
            "boolean" => true,
            "null" => null,
            _ => Text(s["format"]) switch
            {
                "date-time" => "2025-01-01T00:00:00Z",
                "date" => "2025-01-01",
                "email" => "relay@example.com",
                "uri" or "url" => "https://example.com/relay",
                "uuid" => "00000000-0000-4000-8000-000000000000",
                _ => Word(name, words),
            },
        };
    }

    private static JsonObject Object(JsonObject schema, JsonNode? root, IReadOnlyList<string> words, int depth, Walk walk)
    {
        var result = new JsonObject();
        if (schema["properties"] is not JsonObject properties)
        {
            return result;
        }

        var required = (schema["required"] as JsonArray)?.Select(Text).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var (property, propertySchema) in properties)
        {
            if (required is null || required.Count == 0 || required.Contains(property))
            {
                result[property] = Instance(propertySchema, root, property, words, depth + 1, walk);
            }
        }

        return result;
    }

    private static JsonNode? Resolve(JsonNode? root, string reference)
    {
        if (!reference.StartsWith("#/", StringComparison.Ordinal))
        {
            return null;
        }

        var node = root;
        foreach (var segment in reference[2..].Split('/'))
        {
            node = (node as JsonObject)?[segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)];
        }

        return node;
    }

    private static double Bounded(JsonObject schema, double preferred)
    {
        var value = preferred;
        if (Number(schema["minimum"] ?? schema["exclusiveMinimum"]) is { } min && value < min)
        {
            value = min + (schema["exclusiveMinimum"] is null ? 0 : 1);
        }

        if (Number(schema["maximum"] ?? schema["exclusiveMaximum"]) is { } max && value > max)
        {
            value = max - (schema["exclusiveMaximum"] is null ? 0 : 1);
        }

        return value;
    }

    private static string Word(string name, IReadOnlyList<string> words)
    {
        var hash = 2166136261u;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return words[(int)(hash % (uint)words.Count)];
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;

    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var n) ? n : null;

    /// <summary>The values made so far by one instance (see <see cref="MaxValues"/>).</summary>
    private sealed class Walk
    {
        public int Values;
    }
}
