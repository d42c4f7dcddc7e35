
0
aInput"
dtype8"
shape2

€€€€€€€€
(
bInput"
dtype8"
shape2


yAddab