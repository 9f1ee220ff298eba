namespace RelayCluster.Core.Tenants;

/// <summary>
/// The state store (Redis in the cluster, or the tenant's grain while it moves between silos) could not be reached, or
/// refused a stale writer; callers fail closed (503 <c>store_unavailable</c> with Retry-After). Serializable by Orleans,
/// so a grain's refusal reaches the caller on another silo as this type.
/// </summary>
[GenerateSerializer, Alias("relay.store-unavailable")]
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    public StoreUnavailableException() : base("The state store is unavailable.")
    {
    }

    public StoreUnavailableException(string message) : base(message)
    {
    }
}
