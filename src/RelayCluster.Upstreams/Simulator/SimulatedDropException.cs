namespace RelayCluster.Upstreams.Simulator;

/// <summary>Thrown by the simulator to drop its connection mid-stream, as a failing network would.</summary>
public sealed class SimulatedDropException() : IOException("The simulated upstream dropped the connection.");
