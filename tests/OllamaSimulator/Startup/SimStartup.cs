using System.Net;
using OllamaSimulator.Knobs;

namespace OllamaSimulator.Startup;

/// <summary>What the command line asked for; <c>POST /_sim/reset</c> goes back to exactly this.</summary>
internal sealed record SimStartup(
    IPAddress Address,
    string Host,
    int Port,
    IReadOnlyList<string> Models,
    IReadOnlyList<string> Loaded,
    SimKnobs Knobs);
