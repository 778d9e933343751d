"""One module per server kind; ORDER is the start order, services last."""
