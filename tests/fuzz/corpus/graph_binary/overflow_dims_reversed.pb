
%
cConst"
valueB
€€€€€€€€@