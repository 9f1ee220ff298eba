namespace RelayCluster.Core.Tenants;

/// <summary>The state store (Redis in the cluster) could not be reached; callers fail closed.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
