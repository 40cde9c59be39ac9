"""The seven tools of the paper (PAPER.md §7), one module each: argument model + implementation."""
