"""``python -m hf_interaction`` (also what ``accelerate launch -m hf_interaction`` runs)."""

from .cli import main

if __name__ == "__main__":
    main()
