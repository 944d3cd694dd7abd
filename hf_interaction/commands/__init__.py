"""One module per CLI subcommand; ``hf_interaction.cli`` assembles them."""
