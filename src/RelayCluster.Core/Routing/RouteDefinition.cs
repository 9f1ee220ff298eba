using System.Text.Json;
using System.Text.Json.Serialization;

namespace RelayCluster.Core.Routing;

/// <summary>
/// A route for one model name (<c>Relay:Routes:{model}</c>, or the admin API): named alternatives and the
/// active one, so a rollback is a switch of <see cref="Active"/>. Mutable classes because both the
/// configuration binder and System.Text.Json fill them; a stored route is never mutated, only replaced.
/// </summary>
/// <remarks>
/// The shorthand form (targets, lanes and shadow at the top level) is the alternative <c>default</c>;
/// <see cref="Normalize"/> folds it in, so the rest of the relay sees one shape.
/// </remarks>
public sealed class RouteDefinition
{
    public const string DefaultAlternative = "default";

    [JsonPropertyName("active")] public string? Active { get; set; }

    [JsonPropertyName("alternatives")] public Dictionary<string, RouteAlternative> Alternatives { get; set; } = new(StringComparer.Ordinal);

    [JsonPropertyName("targets")] public List<RouteTarget>? Targets { get; set; }

    [JsonPropertyName("stream")] public List<RouteTarget>? Stream { get; set; }

    [JsonPropertyName("non_stream")] public List<RouteTarget>? NonStream { get; set; }

    [JsonPropertyName("batch")] public List<RouteTarget>? Batch { get; set; }

    [JsonPropertyName("shadow")] public ShadowTarget? Shadow { get; set; }

    /// <summary>A copy in the stored shape: shorthand folded into <c>default</c>, <see cref="Active"/> set.</summary>
    public RouteDefinition Normalize()
    {
        var copy = Parse(ToJson())!;
        if (copy.Targets is not null || copy.Stream is not null || copy.NonStream is not null || copy.Batch is not null || copy.Shadow is not null)
        {
            copy.Alternatives[DefaultAlternative] = new RouteAlternative
            {
                Targets = copy.Targets, Stream = copy.Stream, NonStream = copy.NonStream, Batch = copy.Batch, Shadow = copy.Shadow,
            };
            copy.Targets = copy.Stream = copy.NonStream = copy.Batch = null;
            copy.Shadow = null;
        }

        copy.Active ??= copy.Alternatives.ContainsKey(DefaultAlternative) || copy.Alternatives.Count != 1
            ? DefaultAlternative
            : copy.Alternatives.Keys.First();
        return copy;
    }

    public string ToJson() => JsonSerializer.Serialize(this, RouteJsonContext.Default.RouteDefinition);

    public static RouteDefinition? Parse(string json) => JsonSerializer.Deserialize(json, RouteJsonContext.Default.RouteDefinition);
}

/// <summary>
/// One way to serve a model name. <see cref="Targets"/> serves every lane unless the lane has its own list.
/// A list is a fallback chain in order; when its targets carry weights, one is picked by weight (sticky per
/// request id) and the others follow it as fallbacks.
/// </summary>
public sealed class RouteAlternative
{
    [JsonPropertyName("targets")] public List<RouteTarget>? Targets { get; set; }

    [JsonPropertyName("stream")] public List<RouteTarget>? Stream { get; set; }

    [JsonPropertyName("non_stream")] public List<RouteTarget>? NonStream { get; set; }

    [JsonPropertyName("batch")] public List<RouteTarget>? Batch { get; set; }

    [JsonPropertyName("shadow")] public ShadowTarget? Shadow { get; set; }

    /// <summary>Every list this alternative holds, with the name the admin API uses for it.</summary>
    public IEnumerable<(string Lane, List<RouteTarget> Targets)> Lists()
    {
        if (Targets is not null) yield return ("targets", Targets);
        if (Stream is not null) yield return ("stream", Stream);
        if (NonStream is not null) yield return ("non_stream", NonStream);
        if (Batch is not null) yield return ("batch", Batch);
    }
}

/// <summary>A configured model (<c>Relay:Models:*</c>) to call, billed at that model's own price.</summary>
public sealed class RouteTarget
{
    [JsonPropertyName("model")] public string Model { get; set; } = "";

    /// <summary>
    /// Relative share of traffic (0 or more; at least one target of the list positive). 0 drains a target: it is
    /// never picked first but stays a fallback, so a rollout's 100 % is exact. Null on every target of a list
    /// means a plain fallback chain.
    /// </summary>
    [JsonPropertyName("weight")] public int? Weight { get; set; }
}

/// <summary>A configured model that also receives a copy of <see cref="Percent"/> % of the requests.</summary>
public sealed class ShadowTarget
{
    [JsonPropertyName("model")] public string Model { get; set; } = "";

    [JsonPropertyName("percent")] public double Percent { get; set; }
}

[JsonSerializable(typeof(RouteDefinition))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
public sealed partial class RouteJsonContext : JsonSerializerContext;
