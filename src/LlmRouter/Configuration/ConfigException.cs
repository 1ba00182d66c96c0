namespace LlmRouter.Configuration;

/// <summary>Invalid configuration; the message is one line naming the file, the key and the problem.</summary>
public sealed class ConfigException(string message) : Exception(message);
