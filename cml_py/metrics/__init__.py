"""Reading metrics/params files into flat mappings, and comparing two of them."""
