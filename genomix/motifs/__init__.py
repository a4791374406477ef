"""Known motifs: JASPAR via pyjaspar."""
