
0
xInput"
dtype8"
shape2

€€€€€€€€ 