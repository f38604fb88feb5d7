/* akcuda stub: declarations come from the translator's prelude */
