using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace RelayCluster.Silo.Batches;

/// <summary>
/// Places a batch's chunk grains round-robin over the compatible silos, in chunk order from a starting silo picked by
/// the batch id: the chunks a batch runs at once land evenly on every silo. Orleans' built-in strategies spread by
/// chance or by load figures that lag a burst of activations (resource-optimized and activation-count placement left a
/// silo of three without chunks in our runs; random placement leaves one idle in a few percent of batches).
/// A chunk revived after its silo died is placed again over the silos still alive.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.chunk-spread")]
public sealed class ChunkSpreadPlacement : PlacementStrategy
{
}

/// <summary>Puts a grain class under <see cref="ChunkSpreadPlacement"/>; its key must end with <c>/{chunk index}</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ChunkSpreadPlacementAttribute() : PlacementAttribute(new ChunkSpreadPlacement())
{
}

internal sealed class ChunkSpreadPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        // Sorted, so every silo placing a chunk of the batch agrees on the order.
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray();
        var key = target.GrainIdentity.Key.ToString();
        var slash = key.LastIndexOf('/');
        var chunk = slash >= 0 && int.TryParse(key.AsSpan(slash + 1), out var index) ? index : 0;
        var start = (int)(StableHash(slash >= 0 ? key[..slash] : key) % (uint)silos.Length);
        return Task.FromResult(silos[(start + chunk) % silos.Length]);
    }

    /// <summary>FNV-1a over the batch id: the same on every silo and every run (string.GetHashCode is randomized per process).</summary>
    private static uint StableHash(string value)
    {
        var hash = 2166136261u;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}

public static class BatchPlacement
{
    /// <summary>Registers the chunk grains' placement on a silo (every silo of a cluster must have it).</summary>
    public static ISiloBuilder AddBatchPlacement(this ISiloBuilder silo)
    {
        silo.Services.AddPlacementDirector<ChunkSpreadPlacement, ChunkSpreadPlacementDirector>();
        return silo;
    }
}
